import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ConsoleAsset, defaultConsoleRoot, loadConsoleAssets } from './console-assets.js';

/**
 * The console page's policy: scripts, styles and fetches from this origin only, no inline script or style,
 * no plugins, no framing, forms post here only.
 */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
  "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Paths that belong to the registry, the API and the operators' endpoints: never the console's. */
const RESERVED = /^\/(?:v2|api|token|metrics|healthz|readyz)(?:[/?]|$)/;

/** Whether an unmatched request is a deep link into the console (a page the browser navigates to). */
function isConsolePage(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  if (RESERVED.test(request.url)) return false;
  const accept = request.headers.accept ?? '';
  return accept.includes('text/html');
}

/** Requests answered with the console page: their CSP is set after the server-wide one (security-headers.ts). */
const pages = new WeakSet<FastifyRequest>();

function send(request: FastifyRequest, reply: FastifyReply, asset: ConsoleAsset): FastifyReply {
  const accepted = String(request.headers['accept-encoding'] ?? '');
  let body = asset.body;
  if (asset.br && /\bbr\b/.test(accepted)) {
    body = asset.br;
    reply.header('content-encoding', 'br');
  } else if (asset.gzip && /\bgzip\b/.test(accepted)) {
    body = asset.gzip;
    reply.header('content-encoding', 'gzip');
  }
  reply.header('vary', 'accept-encoding');
  reply.header('content-type', asset.type);
  reply.header('content-length', body.length);
  if (asset.immutable) {
    reply.header('cache-control', 'public, max-age=31536000, immutable');
  } else {
    reply.header('cache-control', 'no-cache');
    if (asset.type.startsWith('text/html')) pages.add(request);
  }
  return reply.code(200).send(request.method === 'HEAD' ? undefined : body);
}

export interface ConsoleSetup {
  /** Answers an unmatched request with the console's index.html when it is a page; false when it is not. */
  serveDeepLink(request: FastifyRequest, reply: FastifyReply): boolean;
}

/**
 * Serves the web console (built by `npm run build` into dist/web) at `/`: hashed assets cached for a year,
 * index.html revalidated, brotli or gzip as precompressed at build time, the page under a strict CSP. Also
 * keeps a browser from prompting for a password over the console: the console's fetches say who they are
 * (x-berth-console), and their 401s go without the Basic challenge.
 */
export async function setupConsole(app: FastifyInstance, root = defaultConsoleRoot()): Promise<ConsoleSetup> {
  app.addHook('onSend', async (request, reply) => {
    if (pages.has(request)) reply.header('content-security-policy', CONSOLE_CSP);
    if (reply.statusCode === 401 && request.headers['x-berth-console'] !== undefined) {
      reply.removeHeader('www-authenticate');
    }
  });
  const assets = root ? await loadConsoleAssets(root) : new Map<string, ConsoleAsset>();
  const index = assets.get('/index.html');
  if (!index) {
    app.log.info('the web console is not built (npm run build): / answers 404');
    return { serveDeepLink: () => false };
  }
  for (const [path, asset] of assets) {
    if (path === '/index.html') continue;
    app.get(path, (request, reply) => send(request, reply, asset));
  }
  app.get('/', (request, reply) => send(request, reply, index));
  return {
    serveDeepLink(request, reply) {
      if (!isConsolePage(request)) return false;
      send(request, reply, index);
      return true;
    },
  };
}
