export type { SnapshotInfo } from './backup-layout.js';
export {
  type BackupSummary,
  backup,
  listSnapshots,
  type RestoreSummary,
  restore,
  type VerifySummary,
  verifyBackup,
} from './snapshot.js';
