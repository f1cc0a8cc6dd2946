import { Cron } from 'croner';

/**
 * Cron expressions for schedules: five fields (minute hour day-of-month month day-of-week), or six with
 * seconds first, evaluated in UTC. Returns an error message, or undefined when the expression is valid.
 */
export function cronError(expression: string): string | undefined {
  try {
    new Cron(expression, { paused: true, timezone: 'UTC' }).stop();
    return undefined;
  } catch (error) {
    return `invalid cron expression '${expression}': ${(error as Error).message}`;
  }
}

/** The first time strictly after `after` that the expression names. */
export function nextAfter(expression: string, after: number): number | undefined {
  const cron = new Cron(expression, { paused: true, timezone: 'UTC' });
  const next = cron.nextRun(new Date(after));
  cron.stop();
  return next?.getTime();
}

/**
 * Whether a scheduled job is due: the first scheduled time after its previous scheduled run (or, for a job
 * never run on schedule, after `since`) has passed. Missed times collapse into one run.
 */
export function isDue(expression: string, lastRun: number | undefined, since: number, now: number): boolean {
  return dueAt(expression, lastRun, since, now) !== undefined;
}

/** When the scheduled run that is due now was due (see isDue), or undefined when none is due. */
export function dueAt(
  expression: string,
  lastRun: number | undefined,
  since: number,
  now: number,
): number | undefined {
  const next = nextAfter(expression, lastRun ?? since);
  return next !== undefined && next <= now ? next : undefined;
}
