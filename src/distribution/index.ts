export type { DistributionOptions } from './context.js';
export { distributionRoutes } from './router.js';
