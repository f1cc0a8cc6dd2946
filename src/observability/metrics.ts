import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of one server; a registry per instance keeps tests independent. */
export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'berth_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'berth_http_request_duration_seconds',
    help: 'HTTP request latency by route and method',
    labelNames: ['route', 'method'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly bytesIn = new Counter({
    name: 'berth_http_request_bytes_total',
    help: 'Bytes received in blob and manifest bodies',
    registers: [this.registry],
  });
  readonly bytesOut = new Counter({
    name: 'berth_http_response_bytes_total',
    help: 'Bytes sent in response bodies (by Content-Length)',
    registers: [this.registry],
  });

  readonly policyRefusals = new Counter({
    name: 'berth_pull_policy_refusals_total',
    help: 'Pulls refused by a project policy, by policy (signatures.required) and project',
    labelNames: ['policy', 'project'] as const,
    registers: [this.registry],
  });
  readonly policyExceptions = new Counter({
    name: 'berth_pull_policy_exceptions_total',
    help: 'Pulls a project policy would refuse, served under warn or to a caller who may bypass it',
    labelNames: ['policy', 'project', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly jobRuns = new Counter({
    name: 'berth_job_runs_total',
    help: 'Background job runs this process finished, by kind (gc, retention, scrub, replication, rescan) and status',
    labelNames: ['kind', 'status'] as const,
    registers: [this.registry],
  });

  constructor(uploadsInFlight: () => number) {
    new Gauge({
      name: 'berth_uploads_in_flight',
      help: 'Upload requests writing data right now',
      registers: [this.registry],
      collect() {
        this.set(uploadsInFlight());
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'berth_' });
    // Every kind and status exported from the start at 0, so that a first failure is an increase an alert sees.
    for (const kind of ['gc', 'retention', 'scrub', 'replication', 'rescan']) {
      for (const status of ['succeeded', 'failed']) this.jobRuns.inc({ kind, status }, 0);
    }
  }

  /** Storage gauges, read from `source` when scraped: total stored bytes, and usage and quota per project. */
  watchStorage(source: {
    storedBytes(): Promise<number>;
    projectStorage(): Promise<{ project: string; usedBytes: number; limitBytes: number | null }[]>;
  }): void {
    new Gauge({
      name: 'berth_storage_bytes',
      help: 'Bytes of every stored blob, each counted once',
      registers: [this.registry],
      async collect() {
        this.set(await source.storedBytes());
      },
    });
    new Gauge({
      name: 'berth_project_storage_bytes',
      help: "Bytes of the blobs linked into a project's repositories, each blob counted once per project",
      labelNames: ['project'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const row of await source.projectStorage()) this.set({ project: row.project }, row.usedBytes);
      },
    });
    new Gauge({
      name: 'berth_project_quota_bytes',
      help: "A project's storage quota (projects with one)",
      labelNames: ['project'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const row of await source.projectStorage()) {
          if (row.limitBytes !== null) this.set({ project: row.project }, row.limitBytes);
        }
      },
    });
  }

  /**
   * What storage may hold, read when scraped: storage.capacityBytes (source "configured") or the size of the
   * filesystem holding the blobs (source "filesystem"). No sample when unknown (object storage without
   * storage.capacityBytes), so a ratio to it is absent rather than infinite.
   */
  watchCapacity(
    capacity: () => Promise<{ bytes: number; source: 'configured' | 'filesystem' } | undefined>,
  ): void {
    new Gauge({
      name: 'berth_storage_capacity_bytes',
      help: 'What storage may hold: storage.capacityBytes, or the size of the filesystem holding the blobs',
      labelNames: ['source'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const known = await capacity();
        if (known) this.set({ source: known.source }, known.bytes);
      },
    });
  }

  /** A background job's run ended (garbage collection, retention, scrub, a replication execution, a rescan). */
  jobFinished(kind: string, status: 'succeeded' | 'failed'): void {
    this.jobRuns.inc({ kind, status });
  }

  /** A pull policy's refusal, warning or bypass. */
  pullPolicy(outcome: 'refuse' | 'warn' | 'bypass', policy: string, project: string): void {
    if (outcome === 'refuse') this.policyRefusals.inc({ policy, project });
    else this.policyExceptions.inc({ policy, project, outcome });
  }

  observe(route: string, method: string, status: number, seconds: number, bytesOut: number): void {
    this.requests.inc({ route, method, status: String(status) });
    this.duration.observe({ route, method }, seconds);
    if (bytesOut > 0 && method !== 'HEAD') this.bytesOut.inc(bytesOut);
  }
}
