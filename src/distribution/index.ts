export type { Call, Caller, DistributionOptions, Need } from './context.js';
export { DISTRIBUTION_ENDPOINTS, distributionRoutes } from './router.js';
