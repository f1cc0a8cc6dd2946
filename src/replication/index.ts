// Replication's public face: the registry client, the copy engine, and credentials at rest.
export * from './client/index.js';
export * from './copy/index.js';
export * from './policies/index.js';
export {
  decryptSecret,
  encryptSecret,
  SecretKeyError,
  type SecretKeyring,
  secretKeyring,
} from './secrets.js';
