export type { BlobStore, PutOptions } from './blob-store.js';
export { type CdnOptions, cdnProblem, cdnUrl } from './cdn-url.js';
export { FilesystemBlobStore } from './filesystem.js';
export { S3BlobStore, type S3StoreOptions } from './s3.js';
export { StorageFullError, StorageUnavailableError } from './storage-errors.js';
