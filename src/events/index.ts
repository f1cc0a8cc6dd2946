export { AuditLog, type AuditLogOptions } from './audit-log.js';
export type { AuditEvent, AuditInput, AuditQuery, AuditSink } from './types.js';
