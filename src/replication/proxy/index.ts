// Pull-through caching (proxy projects): a project bound to an upstream registry serves what it holds and
// fetches the rest from there (tags revalidated after a TTL, blobs tee'd to the client and into storage, stale
// content served when the upstream fails). The /v2 handlers ask it through distribution's PullThrough.

export { type MirroredName, MirrorNames, type MirrorNamesOptions } from './mirror-names.js';
export {
  type ProxiedBlob,
  ProxyCache,
  type ProxyCacheOptions,
  type ProxyInput,
  type ProxyLog,
  type ProxyView,
  type ServedManifest,
} from './proxy-cache.js';
export { isDockerHub, upstreamRepository } from './upstream-name.js';
