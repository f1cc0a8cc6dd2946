import type { Member } from '../accounts/index.js';
import { ACTIONS, type Action, PROJECT_ROLES, type ProjectRole } from '../auth/index.js';
import { UsageError } from './api-client.js';

// How the admin verbs read their flags and arguments: a bad one is a UsageError (exit 2).

const DAY_MS = 86_400_000;

export function parseActions(text: string): Action[] {
  const actions = text
    .split(',')
    .map((action) => action.trim())
    .filter(Boolean);
  if (actions.length === 0) throw new UsageError('--actions: give at least one action');
  for (const action of actions) {
    if (!(ACTIONS as readonly string[]).includes(action)) {
      throw new UsageError(`--actions: unknown action '${action}' (one of ${ACTIONS.join(', ')})`);
    }
  }
  return actions as Action[];
}

export function parseExpiryDays(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const days = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(days > 0)) {
    throw new UsageError(`--expires-days: a positive number of days, not '${text}'`);
  }
  return Date.now() + Math.round(days * DAY_MS);
}

export function parseRole(text: string): ProjectRole {
  const role = PROJECT_ROLES.find((candidate) => candidate.toLowerCase() === text.toLowerCase());
  if (!role) throw new UsageError(`role: one of ${PROJECT_ROLES.join(', ')}, not '${text}'`);
  return role;
}

/** `alice`, `user:alice` or `group:NAME`. */
export function parseMember(text: string): { kind: Member['kind']; name: string } {
  const match = /^(user|group):(.+)$/.exec(text);
  const member = match
    ? { kind: match[1] as Member['kind'], name: match[2] as string }
    : { kind: 'user' as const, name: text };
  if (member.name === '') throw new UsageError('member: give a user name or group:NAME');
  return member;
}

const RELATIVE = /^(\d+)([smhdw])$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: DAY_MS, w: 7 * DAY_MS };

/** An ISO 8601 date or date-time, milliseconds since the epoch, or a duration ago (`30m`, `24h`, `7d`). */
/** `--limit`: a positive whole number. */
export function parseLimitFlag(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw new UsageError(`--limit: a positive whole number, not '${text}'`);
  }
  return Number(text);
}

export function parseTimeFlag(flag: string, text: string | undefined, now = Date.now()): number | undefined {
  if (text === undefined) return undefined;
  const relative = RELATIVE.exec(text);
  if (relative) return now - Number(relative[1]) * (UNIT_MS[relative[2] as string] as number);
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (Number.isNaN(ms)) {
    throw new UsageError(`${flag}: an ISO 8601 time, milliseconds, or a duration such as 30m, 24h or 7d`);
  }
  return ms;
}

const BYTE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** `10000000`, `10MB`, `9.5 GiB`: a whole number of bytes. */
export function parseBytes(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?$/i.exec(text.trim());
  const bytes = match
    ? Number(match[1]) * (BYTE_UNITS[(match[2] ?? 'b').toLowerCase()] as number)
    : Number.NaN;
  if (!Number.isSafeInteger(Math.round(bytes)) || (match?.[2] === undefined && !Number.isInteger(bytes))) {
    throw new UsageError(`${flag}: a number of bytes, optionally with a unit (500MB, 10GiB), not '${text}'`);
  }
  return Math.round(bytes);
}
