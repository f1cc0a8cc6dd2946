import type { Kysely } from 'kysely';
import { ManifestRows } from './manifest-rows.js';
import type { Database } from './schema.js';
import { UploadStore } from './upload-store.js';

export { BlobBeingCollected, uncountUnlinked } from './blob-links.js';
export {
  type ManifestRow,
  MissingReference,
  type NewManifest,
  type PutOutcome,
  type ReferrerRow,
  type TagGuard,
} from './manifest-rows.js';

// By concern, each layer in its file: repository-rows.ts (repositories), blob-links.ts (blobs and links),
// manifest-rows.ts (manifests, tags, referrers), upload-store.ts (upload sessions).
/** Rows of the registry: repositories, blob links, manifests, tags and upload sessions. */
export class MetadataStore extends ManifestRows {
  readonly uploads: UploadStore;

  constructor(db: Kysely<Database>) {
    super(db);
    this.uploads = new UploadStore(db);
  }
}
