export { AuditStore } from './audit-store.js';
export type { MetadataDatabase } from './database.js';
export { isPostgresUrl, openDatabase } from './database.js';
export type { ManifestRow, NewManifest, ReferrerRow, UploadRow } from './metadata-store.js';
export { MetadataStore } from './metadata-store.js';
export type { Database } from './schema.js';
export { databaseKeyStore } from './signing-key-store.js';
