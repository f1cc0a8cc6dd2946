export type { BlobStore } from './blob-store.js';
export { FilesystemBlobStore } from './filesystem.js';
