export type { FillLease, FillLocks } from './fill-locks.js';
export { FillLockTable, LocalFillLocks, PostgresFillLocks, WorkerFillLocks } from './fill-locks.js';
export type { Invalidation, InvalidationBus, Notification } from './invalidation.js';
export { LocalBus } from './invalidation.js';
export type { JobLock } from './job-lock.js';
export { LocalJobLock, PostgresJobLock } from './job-lock.js';
export { type Notify, notifyThrough, PostgresBus } from './postgres-bus.js';
export { WorkerBus } from './worker-bus.js';
export { runPrimary } from './workers.js';
