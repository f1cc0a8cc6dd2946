// The copy engine: one artifact (a tag or digest, an image or a multi-arch index, with its referrers) from one
// registry to another, shared by pull-through caching and replication. See copy-artifact.ts.
export { ByteRate, Throttle } from './bandwidth-limit.js';
export { type CopyEvent, type CopyOptions, type CopySummary, copyArtifact } from './copy-artifact.js';
export { matchesPlatform } from './platform-filter.js';
