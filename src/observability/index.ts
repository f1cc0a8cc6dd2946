export { type HealthOptions, healthRoutes } from './health.js';
export { Metrics } from './metrics.js';
