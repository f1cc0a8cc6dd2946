import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { assertRepositoryName, RegistryError } from '../registry/index.js';
import { deleteBlob, getBlob } from './blobs.js';
import type { Call, DistributionOptions, Handler, Need } from './context.js';
import { apiVersion, catalog, listReferrers, listTags } from './listings.js';
import { deleteManifest, getManifest, putManifest } from './manifests.js';
import { cancelUpload, finishUpload, patchUpload, startUpload, uploadStatus } from './uploads.js';

interface Route {
  /** A label for logs and metrics. */
  name: string;
  /** What each method needs to be allowed (push covers the whole upload protocol). */
  needs: Partial<Record<string, 'base' | 'catalog' | 'pull' | 'push' | 'delete'>>;
  /** Matched against the path after `/v2/`; `name` is validated against the grammar after matching. */
  pattern: RegExp;
  methods: Partial<Record<string, Handler>>;
}

// Repository names contain slashes, so the path is matched here rather than by Fastify's router.
// Order matters: the more specific upload routes come before the generic blob route.
const PULL = { GET: 'pull', HEAD: 'pull' } as const;
const ROUTES: Route[] = [
  {
    name: 'base',
    pattern: /^$/,
    methods: { GET: apiVersion, HEAD: apiVersion },
    needs: { GET: 'base', HEAD: 'base' },
  },
  { name: 'catalog', pattern: /^_catalog$/, methods: { GET: catalog }, needs: { GET: 'catalog' } },
  { name: 'tags', pattern: /^(?<name>.+)\/tags\/list$/, methods: { GET: listTags }, needs: PULL },
  {
    name: 'manifest',
    pattern: /^(?<name>.+)\/manifests\/(?<reference>[^/]+)$/,
    methods: { GET: getManifest, HEAD: getManifest, PUT: putManifest, DELETE: deleteManifest },
    needs: { ...PULL, PUT: 'push', DELETE: 'delete' },
  },
  {
    name: 'upload-start',
    pattern: /^(?<name>.+)\/blobs\/uploads\/?$/,
    methods: { POST: startUpload },
    needs: { POST: 'push' },
  },
  {
    name: 'upload',
    pattern: /^(?<name>.+)\/blobs\/uploads\/(?<uuid>[^/]+)$/,
    methods: { GET: uploadStatus, PATCH: patchUpload, PUT: finishUpload, DELETE: cancelUpload },
    needs: { GET: 'push', PATCH: 'push', PUT: 'push', DELETE: 'push' },
  },
  {
    name: 'blob',
    pattern: /^(?<name>.+)\/blobs\/(?<digest>[^/]+)$/,
    methods: { GET: getBlob, HEAD: getBlob, DELETE: deleteBlob },
    needs: { ...PULL, DELETE: 'delete' },
  },
  {
    name: 'referrers',
    pattern: /^(?<name>.+)\/referrers\/(?<digest>[^/]+)$/,
    methods: { GET: listReferrers },
    needs: PULL,
  },
];

/** The /v2 endpoints: name, methods and the pattern of the path after `/v2/` (for tests that walk them all). */
export const DISTRIBUTION_ENDPOINTS: ReadonlyArray<{ name: string; methods: string[]; pattern: RegExp }> =
  ROUTES.map((route) => ({ name: route.name, methods: Object.keys(route.methods), pattern: route.pattern }));

function needOf(route: Route, method: string, name: string | undefined): Need {
  const need = route.needs[method] ?? 'push';
  if (need === 'base' || need === 'catalog') return { kind: need };
  return { kind: 'repository', name: name as string, action: need };
}

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
      const call: Call = { request, reply, params, query, options };
      let need = needOf(route, request.method, params.name);
      try {
        // Pulls only; and not a blob HEAD, which no pull sends but pushes do (is the layer there already?).
        if (
          options.mirror &&
          need.kind === 'repository' &&
          need.action === 'pull' &&
          !(route.name === 'blob' && request.method === 'HEAD')
        ) {
          const mirror = await options.mirror(need.name, query.get('ns') ?? undefined);
          if (mirror) need = { ...need, mirror };
        }
        if (options.guard) call.caller = await options.guard(request, need);
        if (need.kind === 'repository' && need.mirror && !call.caller?.asRequested) {
          params.name = need.mirror.name;
          need = { kind: 'repository', name: need.mirror.name, action: need.action };
        }
        if (need.kind === 'repository' && need.action === 'push' && options.pullThrough) {
          const refusal = await options.pullThrough.refuseWrite(need.name);
          if (refusal) throw refusal;
        }
        const result = await handler(call);
        options.onAnswered?.(call, need, reply.statusCode);
        return result;
      } catch (error) {
        options.onAnswered?.(call, need, error instanceof RegistryError ? error.status : 500);
        throw error;
      }
    }
    request.berthRoute = 'unknown';
    throw new RegistryError('UNSUPPORTED', { status: 404, message: `no such endpoint: ${pathname}` });
  };
  const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
  app.route({ method: [...methods], url: '/v2', handler: dispatch, exposeHeadRoute: false });
  app.route({ method: [...methods], url: '/v2/*', handler: dispatch, exposeHeadRoute: false });
}
