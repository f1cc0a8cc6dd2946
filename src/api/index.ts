/**
 * api/: the management REST API under /api/v1 (users, projects, members, robots, personal access tokens, the
 * audit log) and its OpenAPI 3.1 document at /api/v1/openapi.json. Handlers validate with zod, check access with
 * auth/'s authorize(), call the Accounts core service, and audit every change.
 */

export type { ApiOptions } from './options.js';
export { API_PREFIX, apiRoutes, MAX_BODY_BYTES } from './plugin.js';
export type { AuditAction } from './route.js';
