export type { SnapshotInfo } from './backup-layout.js';
export {
  type BackupLocation,
  openBackupLocation,
  parseS3Url,
  type S3Connection,
} from './backup-location.js';
export {
  type BackupSummary,
  backup,
  listSnapshots,
  type RestoreSummary,
  restore,
  type VerifySummary,
  verifyBackup,
} from './snapshot.js';
