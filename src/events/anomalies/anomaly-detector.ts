import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { projectOf } from '../../auth/index.js';
import { type Database, inProject } from '../../metadata/index.js';
import { type Anomaly, type AnomalyKind, AnomalyStore } from './anomaly-store.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const WEEK = 7 * DAY;

/** audit.anomalies (config/schema.ts), as the detector uses it. */
export interface AnomalySettings {
  enabled: boolean;
  intervalSeconds: number;
  cooldownMinutes: number;
  massPull: {
    enabled: boolean;
    windowMinutes: number;
    lookbackWeeks: number;
    minPulls: number;
    volumeFactor: number;
    offHoursFactor: number;
    minHistoryDays: number;
    minHistoryPulls: number;
  };
  failedLogins: { enabled: boolean; windowMinutes: number; perAccount: number; perAddress: number };
  robotSweep: {
    enabled: boolean;
    windowMinutes: number;
    percent: number;
    minRepositories: number;
    lookbackDays: number;
  };
}

/** Runs a cluster-wide job on one process at a time (cluster/JobLock); returns false when another holds it. */
interface JobLock {
  run(name: string, job: () => Promise<void>): Promise<boolean>;
}

export interface AnomalyDetectorOptions {
  db: Kysely<Database>;
  settings: AnomalySettings;
  /** Milliseconds since the epoch; injectable so tests replay weeks of traffic without waiting. */
  clock?: () => number;
  /** On PostgreSQL: one node at a time reads the shared audit log, so each finding is raised once. */
  jobs?: JobLock;
  /** Each stored finding: the server audits it, sends the webhook event and counts it. */
  onFinding?(anomaly: Anomaly): void;
  onError?(error: Error): void;
}

/** A candidate before it is stored. */
type Finding = Omit<Anomaly, 'id' | 'time'>;

/** A successful pull by an account (anonymous pulls have no account to judge). */
const pulls = (db: Kysely<Database>) =>
  db
    .selectFrom('audit_events')
    .where('action', '=', 'pull')
    .where('result', '=', 'success')
    .where('actor_kind', 'in', ['user', 'robot']);

/** `team/app:v1`, `team/app@sha256:…` → `team/app`. */
function repositoryOf(resource: string): string {
  const cut = resource.search(/[:@]/);
  return cut < 0 ? resource : resource.slice(0, cut);
}

const round = (value: number) => Math.round(value * 100) / 100;

/**
 * The audit anomaly detector. Every `intervalSeconds` it reads the audit log (the shared table, so on
 * PostgreSQL it sees every node's traffic; one node runs it at a time) and applies three rules:
 *
 * - mass-pull: an account's successful pulls in the trailing window, against its own history: the same window
 *   of the week in each of the last `lookbackWeeks` weeks (its "usual" volume at that hour) and its mean pulls
 *   per active hour. At an hour it used in some past week, it fires at `volumeFactor` × the larger of the two;
 *   at an hour it never pulled, at `offHoursFactor` × its hourly mean. Never under `minPulls`, and never for
 *   an account with less than `minHistoryDays` / `minHistoryPulls` of history (new accounts have no usual).
 * - failed-logins-account / failed-logins-address: `perAccount` failed logins of one account, or `perAddress`
 *   from one client address, within the window.
 * - robot-project-sweep: a robot pulled ≥ `percent` % of a project's tagged repositories within the window,
 *   having never been flagged for that project and not having pulled that many of them in the
 *   `lookbackDays` before.
 *
 * A finding is raised once: the same rule is then quiet about the same subject for `cooldownMinutes`, and
 * afterwards counts only the subject's events after that.
 */
export class AnomalyDetector {
  readonly store: AnomalyStore;
  private readonly clock: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(private readonly options: AnomalyDetectorOptions) {
    this.store = new AnomalyStore(options.db);
    this.clock = options.clock ?? Date.now;
  }

  start(): void {
    if (!this.options.settings.enabled || this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.options.settings.intervalSeconds * 1000);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => {});
  }

  /** One scheduled pass, under the cluster-wide lock when there is one; errors are reported, not thrown. */
  private async tick(): Promise<void> {
    if (this.running) return;
    const pass = this.options.jobs
      ? this.options.jobs.run('audit-anomalies', async () => {
          await this.detect();
        })
      : this.detect();
    this.running = pass;
    try {
      await pass;
    } catch (error) {
      this.options.onError?.(error as Error);
    } finally {
      this.running = undefined;
    }
  }

  /** Applies every enabled rule now; stores, reports and returns what it found. */
  async detect(): Promise<Anomaly[]> {
    const now = this.clock();
    const { settings } = this.options;
    const found: Finding[] = [];
    if (settings.massPull.enabled) found.push(...(await this.massPulls(now)));
    if (settings.failedLogins.enabled) found.push(...(await this.failedLogins(now)));
    if (settings.robotSweep.enabled) found.push(...(await this.robotSweeps(now)));
    const stored: Anomaly[] = [];
    for (const finding of found) {
      const anomaly = await this.store.insert({ ...finding, time: now });
      stored.push(anomaly);
      this.options.onFinding?.(anomaly);
    }
    return stored;
  }

  /**
   * Of subject → count over [windowStart, now): those still at or over `threshold` once the events an earlier
   * finding covers are left out, with the start of what was counted. A finding at `t` covers the subject's
   * events up to `t + cooldown`: the rest of a burst that was reported does not fire again, a burst that goes on
   * past the cooldown does (once per cooldown).
   */
  private async unreported(
    kind: AnomalyKind,
    now: number,
    windowStart: number,
    counts: Map<string, number>,
    threshold: number,
    recount: (subject: string, from: number) => Promise<number>,
  ): Promise<{ subject: string; count: number; from: number }[]> {
    if (counts.size === 0) return [];
    const cooldown = this.options.settings.cooldownMinutes * MINUTE;
    const last = await this.store.lastFound(kind, [...counts.keys()], windowStart - cooldown);
    const out: { subject: string; count: number; from: number }[] = [];
    for (const [subject, count] of counts) {
      const at = last.get(subject);
      if (at === undefined || at + cooldown <= windowStart) {
        out.push({ subject, count, from: windowStart });
        continue;
      }
      const quietUntil = at + cooldown;
      if (now <= quietUntil) continue;
      const since = await recount(subject, quietUntil);
      if (since >= threshold) out.push({ subject, count: since, from: quietUntil });
    }
    return out;
  }

  private async massPulls(now: number): Promise<Finding[]> {
    const { db } = this.options;
    const rule = this.options.settings.massPull;
    const window = rule.windowMinutes * MINUTE;
    const windowStart = now - window;
    const rows = await pulls(db)
      .select(['actor', (eb) => eb.fn.countAll<number>().as('n')])
      .where('time', '>=', windowStart)
      .where('time', '<', now)
      .groupBy('actor')
      .having((eb) => eb.fn.countAll(), '>=', rule.minPulls)
      .execute();
    const countPulls = async (actor: string, from: number, to: number) => {
      const row = await pulls(db)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('actor', '=', actor)
        .where('time', '>=', from)
        .where('time', '<', to)
        .executeTakeFirst();
      return Number(row?.n ?? 0);
    };
    const candidates = await this.unreported(
      'mass-pull',
      now,
      windowStart,
      new Map(rows.map((row) => [row.actor, Number(row.n)])),
      rule.minPulls,
      (actor, from) => countPulls(actor, from, now),
    );
    const findings: Finding[] = [];
    for (const { subject: actor, count, from } of candidates) {
      const lookbackStart = now - rule.lookbackWeeks * WEEK;
      // The account's pulls per hour over the lookback, before the window.
      const hours = await pulls(db)
        .select([sql<number>`time / ${sql.lit(HOUR)}`.as('hour'), (eb) => eb.fn.countAll<number>().as('n')])
        .where('actor', '=', actor)
        .where('time', '>=', lookbackStart)
        .where('time', '<', windowStart)
        .groupBy(sql`time / ${sql.lit(HOUR)}`)
        .execute();
      const history = hours.reduce((sum, row) => sum + Number(row.n), 0);
      const firstHour = hours.reduce((min, row) => Math.min(min, Number(row.hour)), Number.POSITIVE_INFINITY);
      const since = firstHour * HOUR;
      if (history < rule.minHistoryPulls || now - since < rule.minHistoryDays * DAY) continue;
      // The same stretch of the week, one to lookbackWeeks weeks ago.
      const weeks: number[] = [];
      for (let k = 1; k <= rule.lookbackWeeks; k++) {
        weeks.push(await countPulls(actor, from - k * WEEK, now - k * WEEK));
      }
      const sameHourMean = weeks.reduce((a, b) => a + b, 0) / weeks.length;
      const hourlyMean = (history / hours.length) * ((now - from) / HOUR);
      const usualHour = weeks.some((n) => n > 0);
      const expected = usualHour ? Math.max(sameHourMean, hourlyMean) : hourlyMean;
      const factor = usualHour ? rule.volumeFactor : rule.offHoursFactor;
      if (count < factor * expected) continue;
      const ratio = expected > 0 ? round(count / expected) : null;
      findings.push({
        kind: 'mass-pull',
        subject: actor,
        project: null,
        windowStart: from,
        count,
        summary: usualHour
          ? `${actor} pulled ${count} times in ${Math.round((now - from) / MINUTE)} min, ${ratio}× its usual ${round(expected)} at this hour of the week`
          : `${actor} pulled ${count} times in ${Math.round((now - from) / MINUTE)} min at an hour it never pulled in the last ${rule.lookbackWeeks} weeks (usually ${round(hourlyMean)} per active hour)`,
        details: {
          rule: usualHour ? 'volume' : 'off-hours',
          pulls: count,
          sameHourOfWeek: weeks,
          sameHourMean: round(sameHourMean),
          hourlyMean: round(hourlyMean),
          expected: round(expected),
          factor,
          historyPulls: history,
          historySince: since,
        },
      });
    }
    return findings;
  }

  private async failedLogins(now: number): Promise<Finding[]> {
    const rule = this.options.settings.failedLogins;
    const findings: Finding[] = [];
    const byAccount = await this.failedLoginsBy(now, 'failed-logins-account', 'actor', rule.perAccount, 20);
    for (const { subject, count, from, seen } of byAccount) {
      findings.push({
        kind: 'failed-logins-account',
        subject,
        project: null,
        windowStart: from,
        count,
        summary: `${count} failed logins as ${subject} in ${Math.round((now - from) / MINUTE)} min`,
        details: {
          failures: count,
          threshold: rule.perAccount,
          addresses: seen.filter((ip) => ip !== null),
        },
      });
    }
    const byAddress = await this.failedLoginsBy(
      now,
      'failed-logins-address',
      'source_ip',
      rule.perAddress,
      50,
    );
    for (const { subject, count, from, seen } of byAddress) {
      findings.push({
        kind: 'failed-logins-address',
        subject,
        project: null,
        windowStart: from,
        count,
        summary: `${count} failed logins from ${subject} in ${Math.round((now - from) / MINUTE)} min (${seen.length} accounts)`,
        details: {
          failures: count,
          threshold: rule.perAddress,
          accounts: seen,
        },
      });
    }
    return findings;
  }

  /**
   * Failed logins counted by `by` (the account, or the address) within the window: those at `threshold` or
   * more and not yet reported (see unreported), each with up to `limit` distinct values of the other column
   * (the addresses it failed from, or the accounts tried from it) since `from`.
   */
  private async failedLoginsBy(
    now: number,
    kind: 'failed-logins-account' | 'failed-logins-address',
    by: 'actor' | 'source_ip',
    threshold: number,
    limit: number,
  ): Promise<{ subject: string; count: number; from: number; seen: (string | null)[] }[]> {
    const other = by === 'actor' ? 'source_ip' : 'actor';
    const windowStart = now - this.options.settings.failedLogins.windowMinutes * MINUTE;
    const failures = this.options.db
      .selectFrom('audit_events')
      .where('action', '=', 'login')
      .where('result', '=', 'failure')
      .where('time', '<', now);
    const counted = await failures
      .select([(eb) => eb.ref(by).as('subject'), (eb) => eb.fn.countAll<number>().as('n')])
      .where('time', '>=', windowStart)
      .where(by, 'is not', null)
      .groupBy(by)
      .having((eb) => eb.fn.countAll(), '>=', threshold)
      .execute();
    const found = await this.unreported(
      kind,
      now,
      windowStart,
      new Map(counted.map((row) => [row.subject as string, Number(row.n)])),
      threshold,
      async (subject, since) =>
        Number(
          (
            await failures
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .where(by, '=', subject)
              .where('time', '>=', since)
              .executeTakeFirst()
          )?.n ?? 0,
        ),
    );
    const withSeen = [];
    for (const { subject, count, from } of found) {
      const seen = await failures
        .select((eb) => eb.ref(other).as('value'))
        .distinct()
        .where(by, '=', subject)
        .where('time', '>=', from)
        .limit(limit)
        .execute();
      withSeen.push({ subject, count, from, seen: seen.map((row) => row.value) });
    }
    return withSeen;
  }

  private async robotSweeps(now: number): Promise<Finding[]> {
    const { db } = this.options;
    const rule = this.options.settings.robotSweep;
    const windowStart = now - rule.windowMinutes * MINUTE;
    const rows = await pulls(db)
      .select(['actor', 'resource'])
      .distinct()
      .where('actor_kind', '=', 'robot')
      .where('time', '>=', windowStart)
      .where('time', '<', now)
      .execute();
    // robot → project → repositories pulled in the window
    const swept = new Map<string, Map<string, Set<string>>>();
    for (const row of rows) {
      const repository = repositoryOf(row.resource);
      const project = projectOf(repository);
      const projects = swept.get(row.actor) ?? new Map<string, Set<string>>();
      swept.set(row.actor, projects);
      const repositories = projects.get(project) ?? new Set<string>();
      projects.set(project, repositories);
      repositories.add(repository);
    }
    const findings: Finding[] = [];
    const tagged = new Map<string, Set<string>>();
    for (const [robot, projects] of swept) {
      for (const [project, pulled] of projects) {
        if (pulled.size < rule.minRepositories) continue;
        let all = tagged.get(project);
        if (!all) {
          const names = await db
            .selectFrom('repositories as r')
            .select('r.name')
            .where((eb) => inProject(eb, project))
            .where(({ exists, selectFrom }) =>
              exists(selectFrom('tags as t').select('t.name').whereRef('t.repository_id', '=', 'r.id')),
            )
            .execute();
          all = new Set(names.map((row) => row.name));
          tagged.set(project, all);
        }
        if (all.size < rule.minRepositories) continue;
        const share = [...pulled].filter((name) => all.has(name)).length / all.size;
        if (share * 100 < rule.percent) continue;
        if (await this.store.foundBefore('robot-project-sweep', robot, project)) continue;
        // Pulled that much of the project before, in the lookback? Then it is its habit, not news.
        const before = await pulls(db)
          .select('resource')
          .distinct()
          .where('actor', '=', robot)
          .where('time', '>=', windowStart - rule.lookbackDays * DAY)
          .where('time', '<', windowStart)
          .execute();
        const earlier = new Set(
          before.map((row) => repositoryOf(row.resource)).filter((name) => all.has(name)),
        );
        if ((earlier.size / all.size) * 100 >= rule.percent) continue;
        findings.push({
          kind: 'robot-project-sweep',
          subject: robot,
          project,
          windowStart,
          count: pulled.size,
          summary: `${robot} pulled ${Math.round(share * 100)} % of project ${project} (${pulled.size} of ${all.size} repositories) in ${rule.windowMinutes} min, which it never did before`,
          details: {
            repositories: [...pulled].sort().slice(0, 100),
            projectRepositories: all.size,
            percent: round(share * 100),
            threshold: rule.percent,
            pulledBefore: earlier.size,
          },
        });
      }
    }
    return findings;
  }
}
