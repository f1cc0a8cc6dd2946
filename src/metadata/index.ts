export type {
  AccessTokenRow,
  MemberRow,
  NewUserRow,
  PermissionRow,
  ProjectRow,
  ProjectVisibility,
  RobotChanges,
  RobotRow,
  SessionRow,
  UserChanges,
  UserRow,
} from './accounts-store.js';
export { AccountsStore } from './accounts-store.js';
export { AuditStore } from './audit-store.js';
export type { CollectionGraph, RepositoryItem } from './collection-store.js';
export { CollectionStore } from './collection-store.js';
export type { MetadataDatabase } from './database.js';
export { isPostgresUrl, openDatabase } from './database.js';
export { DatabaseUnavailableError, isDatabaseFull } from './database-errors.js';
export type { JobKind, JobRunRow, JobStatus, NewJobRun } from './job-run-store.js';
export { JobRunStore } from './job-run-store.js';
export type {
  ImmutabilityRuleRow,
  LinkAdmission,
  ProjectStorageRow,
  QuotaCharge,
} from './lifecycle-store.js';
export { inProject, LifecycleStore } from './lifecycle-store.js';
export { DatabaseFailureLog } from './login-failure-log.js';
export type { ManifestRow, NewManifest, PutOutcome, ReferrerRow, TagGuard } from './metadata-store.js';
export { BlobBeingCollected, MetadataStore, MissingReference } from './metadata-store.js';
export { StaticMigrationProvider } from './migrations.js';
export type { CliSecretRow, OidcLoginRow, OidcProfileRow, OidcProvisionRefusal } from './oidc-rows.js';
export { OidcRows } from './oidc-rows.js';
export type { ProjectManifestRow, RetentionPolicyRow } from './retention-store.js';
export { RetentionStore } from './retention-store.js';
export type {
  ScanClaim,
  ScanOutcome,
  ScanReportRow,
  ScanSettingsRow,
  ScanStatus,
} from './scan-store.js';
export { DEFAULT_SCAN_SETTINGS, ScanStore } from './scan-store.js';
export type { Database } from './schema.js';
export type {
  NotationStoreRow,
  ProjectTrustRow,
  SignaturePolicyRow,
  TrustedKeyRow,
} from './signature-store.js';
export { DuplicateTrustName, SignatureStore } from './signature-store.js';
export { databaseKeyStore } from './signing-key-store.js';
export type { UploadRow } from './upload-store.js';
