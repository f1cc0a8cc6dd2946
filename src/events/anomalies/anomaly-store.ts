import type { Generated, Kysely } from 'kysely';
import type { Database } from '../../metadata/index.js';

type AnomalyTables = {
  audit_anomalies: {
    id: Generated<number>;
    time: number;
    kind: string;
    subject: string;
    project: string | null;
    window_start: number;
    count: number;
    summary: string;
    details: string;
  };
};

/** What the detector looks for (docs/operations.md, "Audit anomalies"). */
export const ANOMALY_KINDS = [
  'mass-pull',
  'failed-logins-account',
  'failed-logins-address',
  'robot-project-sweep',
] as const;
export type AnomalyKind = (typeof ANOMALY_KINDS)[number];

/** One finding of the detector. */
export interface Anomaly {
  id: number;
  /** When it was raised. */
  time: number;
  kind: AnomalyKind;
  /** The account (a login or `robot$…`), or for failed-logins-address the client address. */
  subject: string;
  /** The project a robot swept; null for the other kinds. */
  project: string | null;
  /** The events counted run from here to `time`. */
  windowStart: number;
  /** How many events were counted (pulls, failed logins, repositories). */
  count: number;
  summary: string;
  /** The numbers the rule compared: baseline, thresholds, repositories. */
  details: Record<string, unknown>;
}

export interface AnomalyQuery {
  kind?: AnomalyKind | undefined;
  subject?: string | undefined;
  from?: number | undefined;
  to?: number | undefined;
  limit: number;
  /** Newest first: below this id. */
  before?: number | undefined;
}

/** The findings table: every node reads and writes the same rows (on PostgreSQL). */
export class AnomalyStore {
  private readonly db: Kysely<Database & AnomalyTables>;

  constructor(db: Kysely<Database>) {
    this.db = db.withTables<AnomalyTables>();
  }

  async insert(finding: Omit<Anomaly, 'id'>): Promise<Anomaly> {
    const row = await this.db
      .insertInto('audit_anomalies')
      .values({
        time: finding.time,
        kind: finding.kind,
        subject: finding.subject,
        project: finding.project,
        window_start: finding.windowStart,
        count: finding.count,
        summary: finding.summary,
        details: JSON.stringify(finding.details),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return { ...finding, id: Number(row.id) };
  }

  /** The latest finding of `kind` about each of `subjects` since `since`: subject → its time. */
  async lastFound(kind: AnomalyKind, subjects: string[], since: number): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    for (let i = 0; i < subjects.length; i += 500) {
      const rows = await this.db
        .selectFrom('audit_anomalies')
        .select(['subject', (eb) => eb.fn.max('time').as('time')])
        .where('kind', '=', kind)
        .where('subject', 'in', subjects.slice(i, i + 500))
        .where('time', '>=', since)
        .groupBy('subject')
        .execute();
      for (const row of rows) found.set(row.subject, Number(row.time));
    }
    return found;
  }

  /** Whether `subject` was ever flagged for `kind` in `project`. */
  async foundBefore(kind: AnomalyKind, subject: string, project: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('audit_anomalies')
      .select('id')
      .where('kind', '=', kind)
      .where('subject', '=', subject)
      .where('project', '=', project)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Removes findings raised before `time` (audit retention); returns how many. */
  async deleteBefore(time: number): Promise<number> {
    const result = await this.db.deleteFrom('audit_anomalies').where('time', '<', time).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Newest first. */
  async list(q: AnomalyQuery): Promise<Anomaly[]> {
    let query = this.db.selectFrom('audit_anomalies').selectAll();
    if (q.kind !== undefined) query = query.where('kind', '=', q.kind);
    if (q.subject !== undefined) query = query.where('subject', '=', q.subject);
    if (q.from !== undefined) query = query.where('time', '>=', q.from);
    if (q.to !== undefined) query = query.where('time', '<', q.to);
    if (q.before !== undefined) query = query.where('id', '<', q.before);
    const rows = await query.orderBy('id', 'desc').limit(q.limit).execute();
    return rows.map((row) => ({
      id: Number(row.id),
      time: Number(row.time),
      kind: row.kind as AnomalyKind,
      subject: row.subject,
      project: row.project,
      windowStart: Number(row.window_start),
      count: Number(row.count),
      summary: row.summary,
      details: JSON.parse(row.details) as Record<string, unknown>,
    }));
  }
}
