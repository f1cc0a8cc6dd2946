export type { Call, Caller, DistributionOptions, Need } from './context.js';
export { distributionRoutes } from './router.js';
