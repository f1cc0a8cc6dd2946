import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { assertRepositoryName, RegistryError } from '../registry/index.js';
import { deleteBlob, getBlob } from './blobs.js';
import type { DistributionOptions, Handler } from './context.js';
import { apiVersion, catalog, listReferrers, listTags } from './listings.js';
import { deleteManifest, getManifest, putManifest } from './manifests.js';
import { cancelUpload, finishUpload, patchUpload, startUpload, uploadStatus } from './uploads.js';

interface Route {
  /** A label for logs and metrics. */
  name: string;
  /** Matched against the path after `/v2/`; `name` is validated against the grammar after matching. */
  pattern: RegExp;
  methods: Partial<Record<string, Handler>>;
}

// Repository names contain slashes, so the path is matched here rather than by Fastify's router.
// Order matters: the more specific upload routes come before the generic blob route.
const ROUTES: Route[] = [
  { name: 'base', pattern: /^$/, methods: { GET: apiVersion, HEAD: apiVersion } },
  { name: 'catalog', pattern: /^_catalog$/, methods: { GET: catalog } },
  { name: 'tags', pattern: /^(?<name>.+)\/tags\/list$/, methods: { GET: listTags } },
  {
    name: 'manifest',
    pattern: /^(?<name>.+)\/manifests\/(?<reference>[^/]+)$/,
    methods: { GET: getManifest, HEAD: getManifest, PUT: putManifest, DELETE: deleteManifest },
  },
  { name: 'upload-start', pattern: /^(?<name>.+)\/blobs\/uploads\/?$/, methods: { POST: startUpload } },
  {
    name: 'upload',
    pattern: /^(?<name>.+)\/blobs\/uploads\/(?<uuid>[^/]+)$/,
    methods: { GET: uploadStatus, PATCH: patchUpload, PUT: finishUpload, DELETE: cancelUpload },
  },
  {
    name: 'blob',
    pattern: /^(?<name>.+)\/blobs\/(?<digest>[^/]+)$/,
    methods: { GET: getBlob, HEAD: getBlob, DELETE: deleteBlob },
  },
  {
    name: 'referrers',
    pattern: /^(?<name>.+)\/referrers\/(?<digest>[^/]+)$/,
    methods: { GET: listReferrers },
  },
];

declare module 'fastify' {
  interface FastifyRequest {
    /** The /v2 route that matched, for logs and metrics. */
    berthRoute?: string;
  }
}

function decodePath(path: string): string | undefined {
  if (!path.includes('%')) return path;
  try {
    return decodeURIComponent(path);
  } catch {
    return undefined;
  }
}

/** The OCI Distribution API under /v2, as one Fastify plugin. */
export async function distributionRoutes(app: FastifyInstance, options: DistributionOptions): Promise<void> {
  const dispatch = async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('docker-distribution-api-version', 'registry/2.0');
    // Split by hand: a WHATWG URL parse per request is measurable on the manifest GET hot path.
    const queryAt = request.url.indexOf('?');
    const pathname = queryAt === -1 ? request.url : request.url.slice(0, queryAt);
    const query = new URLSearchParams(queryAt === -1 ? '' : request.url.slice(queryAt + 1));
    const rest = decodePath(pathname.replace(/^\/v2\/?/, ''));
    for (const route of ROUTES) {
      const match = rest === undefined ? null : route.pattern.exec(rest);
      if (!match) continue;
      request.berthRoute = route.name;
      const handler = route.methods[request.method];
      if (!handler) {
        reply.header('allow', Object.keys(route.methods).join(', '));
        throw new RegistryError('UNSUPPORTED', {
          message: `${request.method} is not allowed on this endpoint`,
        });
      }
      const params = { ...match.groups };
      if (params.name !== undefined) assertRepositoryName(params.name);
      return handler({ request, reply, params, query, options });
    }
    request.berthRoute = 'unknown';
    throw new RegistryError('UNSUPPORTED', { status: 404, message: `no such endpoint: ${pathname}` });
  };
  const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
  app.route({ method: [...methods], url: '/v2', handler: dispatch, exposeHeadRoute: false });
  app.route({ method: [...methods], url: '/v2/*', handler: dispatch, exposeHeadRoute: false });
}
