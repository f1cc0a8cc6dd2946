export type { Call, Caller, DistributionOptions, Mirrored, Need } from './context.js';
export { DISTRIBUTION_ENDPOINTS, distributionRoutes } from './router.js';
