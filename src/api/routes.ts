import { anomalyRoutes } from './anomaly-routes.js';
import { auditRoutes } from './audit-routes.js';
import { catalogRoutes } from './catalog-routes.js';
import { consoleSessionRoutes } from './console-session-routes.js';
import { gcRoutes } from './gc-routes.js';
import { lifecycleRoutes } from './lifecycle-routes.js';
import { oidcRoutes } from './oidc-routes.js';
import { projectRoutes } from './project-routes.js';
import { replicationRoutes } from './replication-routes.js';
import { retentionRoutes } from './retention-routes.js';
import { robotRoutes } from './robot-routes.js';
import type { ApiRoute } from './route.js';
import { scanningRoutes } from './scanning-routes.js';
import { scrubRoutes } from './scrub-routes.js';
import { sessionRoutes } from './session-routes.js';
import { signatureRoutes } from './signature-routes.js';
import { systemRoutes } from './system-routes.js';
import { tokenRoutes } from './token-routes.js';
import { userRoutes } from './user-routes.js';
import { webhookRoutes } from './webhook-routes.js';

/** Every /api/v1 route but the OpenAPI document's own, in the order the document lists them. */
export function apiRouteTable(): ApiRoute[] {
  return [
    ...userRoutes,
    ...tokenRoutes,
    ...sessionRoutes,
    ...oidcRoutes,
    ...consoleSessionRoutes,
    ...projectRoutes,
    ...catalogRoutes,
    ...lifecycleRoutes,
    ...retentionRoutes,
    ...gcRoutes,
    ...scrubRoutes,
    ...webhookRoutes,
    ...replicationRoutes,
    ...signatureRoutes,
    ...scanningRoutes,
    ...robotRoutes,
    ...auditRoutes,
    ...anomalyRoutes,
    ...systemRoutes,
  ];
}
