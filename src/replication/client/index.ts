// The registry client: the client side of the OCI Distribution API against any registry (Berth, Distribution,
// Harbor, Zot, Docker Hub, ghcr, quay…), shared by pull-through caching and replication.
//
// Usage:
//   const source = new RegistryClient({ url: 'https://registry-1.docker.io' });            // anonymous, pull
//   const target = new RegistryClient({ url: 'http://127.0.0.1:5000', access: 'push',
//                                       credentials: { username, password } });          // Basic or token auth
//   const manifest = await source.getManifest('library/alpine', '3.20');  // exact bytes, digest verified; 404 → undefined
//   await target.headBlob('team/alpine', digest);                         // { size } or undefined
//   const bytes = await source.getBlob('library/alpine', { digest, size }); // Readable; fails on a digest/size mismatch
//   await target.pushBlob('team/alpine', { digest, size }, () => source.getBlob(…), { mountFrom: 'team/other' });
//   await target.putManifest('team/alpine', '3.20', manifest);           // same bytes → same digest
//   for await (const tag of source.tags('library/alpine')) …              // every page (Link rel="next")
//   await source.referrers('library/alpine', digest);                     // API, or the sha256-<hex> tag schema
// Auth is learned from the first 401 (Bearer realm/service/scope → a token per scope set, cached; or Basic).
// Transient failures (429/502/503/504/408, network, timeouts) are retried with exponential backoff and jitter
// (cockatiel), honouring Retry-After; a chunked upload cut off goes on where the registry's session stands
// (GET <location> → Range), from a source reopened there (pushBlob's resumeFrom ← getBlob's `from`: a Range
// GET hashed on from the prefix's hash state); a lost session or a one-PUT upload restarts in a new session.
// Errors: RemoteRegistryError (OCI code, status, URL without credentials), ContentMismatchError,
// RegistryNetworkError, RegistryTimeoutError; isTransient() tells which a retry may cure.
export type { Credentials } from './authenticator.js';
export {
  ContentMismatchError,
  isTransient,
  printableUrl,
  RegistryNetworkError,
  RegistryTimeoutError,
  type RemoteErrorEntry,
  RemoteRegistryError,
} from './errors.js';
export {
  MANIFEST_ACCEPT,
  RegistryClient,
  type RegistryClientOptions,
  referrersTag,
} from './registry-client.js';
export { parseRetryAfter, type RetryOptions, retryPolicy } from './retry-policy.js';
export type { Timeouts } from './transport.js';
export type { Descriptor, Manifest, ManifestHead, Platform, Referrers } from './types.js';
export type { BlobPrefix } from './upload-session.js';
