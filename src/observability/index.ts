export { AuditMetrics } from './audit-metrics.js';
export { type HealthOptions, healthRoutes } from './health.js';
export { Metrics } from './metrics.js';
