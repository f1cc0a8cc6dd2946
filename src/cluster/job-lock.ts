import type pg from 'pg';

/**
 * Runs cluster-wide jobs (upload purge, later GC and retention) on one process at a time. `run` returns
 * false without running the job when another process holds it.
 */
export interface JobLock {
  run(name: string, job: () => Promise<void>): Promise<boolean>;
}

/** On one process: never two runs of a job at once. `enabled` false leaves jobs to another worker. */
export class LocalJobLock implements JobLock {
  private readonly running = new Set<string>();

  constructor(private readonly enabled = true) {}

  async run(name: string, job: () => Promise<void>): Promise<boolean> {
    if (!this.enabled || this.running.has(name)) return false;
    this.running.add(name);
    try {
      await job();
      return true;
    } finally {
      this.running.delete(name);
    }
  }
}

/**
 * A PostgreSQL session advisory lock per job name, held on one pooled connection for the job's duration.
 * If the node dies, PostgreSQL drops its session and the lock with it, so another node takes over.
 */
export class PostgresJobLock implements JobLock {
  constructor(private readonly pool: pg.Pool) {}

  async run(name: string, job: () => Promise<void>): Promise<boolean> {
    const client = await this.pool.connect();
    const key = `berth:${name}`;
    try {
      const { rows } = await client.query<{ locked: boolean }>(
        'select pg_try_advisory_lock(hashtext($1)) as locked',
        [key],
      );
      if (!rows[0]?.locked) return false;
      try {
        await job();
        return true;
      } finally {
        await client.query('select pg_advisory_unlock(hashtext($1))', [key]);
      }
    } finally {
      client.release();
    }
  }
}
