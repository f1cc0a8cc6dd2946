import type { AffectedVersions, OsvEvent, OsvRange } from '../versions/index.js';
import { ecosystemKey, normaliseName } from './ecosystems.js';
import { type RecordSeverity, recordSeverity, type SeverityEntry } from './record-severity.js';

/** An OSV record as Berth keeps it: what findings show, and the affected packages it indexes. */
export interface VulnerabilityRecord extends RecordSeverity {
  id: string;
  /** Milliseconds since the epoch. */
  modified: number;
  published?: number;
  withdrawn?: number;
  summary?: string;
  aliases: string[];
  links: string[];
  /** Only the packages of ecosystems Berth scans, under their index keys. */
  affected: AffectedPackage[];
}

export interface AffectedPackage extends AffectedVersions {
  ecosystem: string;
  name: string;
}

/** Why a record was refused (the import counts and reports it, then goes on). */
export class InvalidRecord extends Error {}

const EVENT_KINDS = ['introduced', 'fixed', 'last_affected', 'limit'] as const;
const MAX_LINKS = 20;
const MAX_SUMMARY = 300;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(value: unknown, what: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new InvalidRecord(`${what} is not a string`);
  return value;
}

function date(value: unknown, what: string): number | undefined {
  const text = optionalString(value, what);
  if (text === undefined) return undefined;
  const time = Date.parse(text);
  if (!Number.isFinite(time)) throw new InvalidRecord(`${what} '${text}' is not an RFC 3339 time`);
  return time;
}

function array(value: unknown, what: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new InvalidRecord(`${what} is not an array`);
  return value;
}

function strings(value: unknown, what: string): string[] {
  return array(value, what).map((item, i) => {
    if (typeof item !== 'string') throw new InvalidRecord(`${what}[${i}] is not a string`);
    return item;
  });
}

function event(value: unknown, what: string): OsvEvent {
  if (!isObject(value)) throw new InvalidRecord(`${what} is not an object`);
  const keys = Object.keys(value).filter((key) => (EVENT_KINDS as readonly string[]).includes(key));
  const kind = keys[0] as (typeof EVENT_KINDS)[number] | undefined;
  if (keys.length !== 1 || kind === undefined) {
    throw new InvalidRecord(`${what} must have exactly one of ${EVENT_KINDS.join(', ')}`);
  }
  const version = value[kind];
  if (typeof version !== 'string' || version === '')
    throw new InvalidRecord(`${what}.${kind} is not a version`);
  return { [kind]: version };
}

/** The ECOSYSTEM and SEMVER ranges of an affected entry; GIT ranges name commits and are left out. */
function ranges(value: unknown, what: string): OsvRange[] {
  const kept: OsvRange[] = [];
  array(value, what).forEach((range, i) => {
    const where = `${what}[${i}]`;
    if (!isObject(range)) throw new InvalidRecord(`${where} is not an object`);
    const events = array(range.events, `${where}.events`).map((e, j) => event(e, `${where}.events[${j}]`));
    if (events.length === 0) throw new InvalidRecord(`${where}.events is empty`);
    if (range.type === 'GIT') return;
    if (range.type !== 'ECOSYSTEM' && range.type !== 'SEMVER') {
      throw new InvalidRecord(`${where}.type '${String(range.type)}' is not ECOSYSTEM, SEMVER or GIT`);
    }
    kept.push({ type: range.type, events });
  });
  return kept;
}

function severityEntries(value: unknown, what: string): SeverityEntry[] {
  return array(value, what).map((entry, i) => {
    if (!isObject(entry) || typeof entry.type !== 'string' || typeof entry.score !== 'string') {
      throw new InvalidRecord(`${what}[${i}] needs a type and a score`);
    }
    return { type: entry.type, score: entry.score };
  });
}

/** The severity words databases write in `database_specific` / `ecosystem_specific`. */
function ratingsIn(value: unknown): string[] {
  if (!isObject(value)) return [];
  return ['severity', 'urgency', 'priority'].flatMap((key) =>
    typeof value[key] === 'string' ? [value[key]] : [],
  );
}

/**
 * Validates one OSV record (https://ossf.github.io/osv-schema/) and keeps what Berth needs; throws
 * InvalidRecord naming the first problem.
 */
export function parseOsvRecord(json: unknown): VulnerabilityRecord {
  if (!isObject(json)) throw new InvalidRecord('a record is a JSON object');
  const id = json.id;
  if (typeof id !== 'string' || !/^\S{1,200}$/.test(id))
    throw new InvalidRecord('id is missing or not an id');
  try {
    return parseFields(id, json);
  } catch (error) {
    if (error instanceof InvalidRecord) throw new InvalidRecord(`${id}: ${error.message}`);
    throw error;
  }
}

function parseFields(id: string, json: Json): VulnerabilityRecord {
  const modified = date(json.modified, 'modified');
  if (modified === undefined) throw new InvalidRecord('modified is missing');
  const severities = severityEntries(json.severity, 'severity');
  const ratings = ratingsIn(json.database_specific);
  const affected: AffectedPackage[] = [];
  array(json.affected, 'affected').forEach((entry, i) => {
    const where = `affected[${i}]`;
    if (!isObject(entry)) throw new InvalidRecord(`${where} is not an object`);
    severities.push(...severityEntries(entry.severity, `${where}.severity`));
    ratings.push(...ratingsIn(entry.ecosystem_specific), ...ratingsIn(entry.database_specific));
    const entryRanges = ranges(entry.ranges, `${where}.ranges`);
    const versions = strings(entry.versions, `${where}.versions`);
    // A package-less entry carries GIT ranges only (commits, not installable versions).
    if (entry.package === undefined) return;
    if (!isObject(entry.package)) throw new InvalidRecord(`${where}.package is not an object`);
    const { ecosystem, name } = entry.package;
    if (typeof ecosystem !== 'string' || ecosystem === '')
      throw new InvalidRecord(`${where}.package.ecosystem is missing`);
    if (typeof name !== 'string' || name === '') throw new InvalidRecord(`${where}.package.name is missing`);
    const key = ecosystemKey(ecosystem);
    if (key === undefined || (entryRanges.length === 0 && versions.length === 0)) return;
    affected.push({
      ecosystem: key,
      name: normaliseName(key, name),
      ranges: entryRanges,
      ...(versions.length > 0 ? { versions } : {}),
    });
  });
  for (const rating of severities.filter((entry) => entry.type === 'Ubuntu')) ratings.push(rating.score);
  const summary =
    optionalString(json.summary, 'summary') || firstLine(optionalString(json.details, 'details'));
  const links = array(json.references, 'references').flatMap((reference) =>
    isObject(reference) && typeof reference.url === 'string' ? [reference.url] : [],
  );
  const published = date(json.published, 'published');
  const withdrawn = date(json.withdrawn, 'withdrawn');
  return {
    id,
    modified,
    ...(published === undefined ? {} : { published }),
    ...(withdrawn === undefined ? {} : { withdrawn }),
    ...(summary ? { summary } : {}),
    // `upstream` (DEBIAN-CVE-…, ALPINE-CVE-… derive from the CVE) names the same advisory for a finding's sake.
    aliases: [
      ...new Set([...strings(json.aliases, 'aliases'), ...strings(json.upstream, 'upstream')]),
    ].filter((alias) => alias !== id),
    links: [...new Set(links)].slice(0, MAX_LINKS),
    ...recordSeverity(severities, ratings),
    affected,
  };
}

function firstLine(text: string | undefined): string | undefined {
  const line = text?.trim().split('\n')[0]?.trim();
  if (!line) return undefined;
  return line.length > MAX_SUMMARY ? `${line.slice(0, MAX_SUMMARY - 1)}…` : line;
}
