import { Counter, Gauge, type Registry } from 'prom-client';

/** The audit stream's and the anomaly detector's metrics, on a server's registry. */
export class AuditMetrics {
  private readonly streamed: Counter<'sink'>;
  private readonly dropped: Counter<'sink'>;
  private readonly failures: Counter<'sink'>;
  private readonly anomalies: Counter<'kind'>;

  constructor(registry: Registry, queued: () => Record<string, number>) {
    this.streamed = new Counter({
      name: 'berth_audit_stream_events_total',
      help: 'Audit events written to a stream sink (file, syslog)',
      labelNames: ['sink'] as const,
      registers: [registry],
    });
    this.dropped = new Counter({
      name: 'berth_audit_stream_dropped_total',
      help: 'Audit events a stream sink dropped because its buffer was full (the sink is stuck or too slow)',
      labelNames: ['sink'] as const,
      registers: [registry],
    });
    this.failures = new Counter({
      name: 'berth_audit_stream_errors_total',
      help: 'Failed writes to a stream sink (each batch is retried)',
      labelNames: ['sink'] as const,
      registers: [registry],
    });
    new Gauge({
      name: 'berth_audit_stream_queued_events',
      help: 'Audit events waiting for a stream sink',
      labelNames: ['sink'] as const,
      registers: [registry],
      collect() {
        for (const [sink, count] of Object.entries(queued())) this.set({ sink }, count);
      },
    });
    this.anomalies = new Counter({
      name: 'berth_audit_anomalies_total',
      help: 'Findings of the audit anomaly detector, by kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    });
  }

  written(sink: string, count: number): void {
    this.streamed.inc({ sink }, count);
  }

  droppedEvents(sink: string, count: number): void {
    this.dropped.inc({ sink }, count);
  }

  failedWrite(sink: string): void {
    this.failures.inc({ sink });
  }

  anomaly(kind: string): void {
    this.anomalies.inc({ kind });
  }
}
