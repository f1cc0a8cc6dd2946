export {
  ANOMALY_ACTION,
  auditJsonLine,
  auditRecord,
  parseSyslogMessage,
  SYSLOG_FACILITIES,
  type SyslogFacility,
  syslogMessage,
  type TimedAuditEvent,
} from './audit-line.js';
export { AuditStream, type AuditStreamOptions, type StreamSink } from './audit-stream.js';
export { FileSink, type FileSinkOptions } from './file-sink.js';
export { parseSyslogAddress, SyslogSink } from './syslog-sink.js';
