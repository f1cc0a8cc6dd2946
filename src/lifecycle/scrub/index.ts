export { BlobQuarantine, type QuarantinedBlob } from './quarantine.js';
export type { AffectedRepository } from './scrub-store.js';
export {
  type BlobFinding,
  type ManifestFinding,
  Scrubber,
  type ScrubberOptions,
  type ScrubRequest,
  type ScrubState,
  type ScrubSummary,
} from './scrubber.js';
