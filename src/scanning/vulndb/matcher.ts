import type { Finding, OsRelease, Package, Severity } from '../types.js';
import { type AffectedVersions, comparator, evaluateAffected, InvalidVersion } from '../versions/index.js';
import { lookupOf, type PackageLookup, schemeOf } from './ecosystems.js';
import type { StoredRecord, VulnerabilityStore } from './vulnerability-store.js';

export interface MatchResult {
  findings: Finding[];
  /** Comparisons that could not be made (a version the scheme cannot read), in words. */
  problems: string[];
}

interface Hit {
  recordId: string;
  fixed?: string;
}

const RANK: Severity[] = ['Unknown', 'Low', 'Medium', 'High', 'Critical'];

/**
 * Matches packages against the stored records: candidates are fetched per ecosystem with IN lists of names
 * (a handful of queries for a whole image), ranges are evaluated in memory.
 */
export async function matchPackages(
  store: VulnerabilityStore,
  packages: Package[],
  os?: OsRelease,
): Promise<MatchResult> {
  const lookups = packages.flatMap((pkg) => {
    const lookup = lookupOf(pkg, os);
    return lookup ? [{ pkg, lookup }] : [];
  });
  const names = new Map<string, Set<string>>();
  for (const { lookup } of lookups) {
    for (const ecosystem of lookup.ecosystems) {
      const set = names.get(ecosystem) ?? new Set<string>();
      set.add(lookup.name);
      names.set(ecosystem, set);
    }
  }
  const candidates = new Map<string, { recordId: string; ranges: string }[]>();
  for (const [ecosystem, set] of names) {
    for (const row of await store.affected(ecosystem, [...set])) {
      const key = `${ecosystem}\0${row.name}`;
      const list = candidates.get(key) ?? [];
      list.push(row);
      candidates.set(key, list);
    }
  }
  const problems: string[] = [];
  const hits = lookups.map(({ pkg, lookup }) => ({ pkg, hits: evaluate(lookup, candidates, problems) }));
  const records = await store.records([...new Set(hits.flatMap((h) => h.hits.map((hit) => hit.recordId)))]);
  const findings = hits.flatMap(({ pkg, hits }) => findingsOf(pkg, hits, records));
  findings.sort(
    (a, b) =>
      compareText(a.package.name, b.package.name) ||
      compareText(a.package.version, b.package.version) ||
      compareText(a.id, b.id),
  );
  return { findings, problems };
}

function evaluate(
  lookup: PackageLookup,
  candidates: Map<string, { recordId: string; ranges: string }[]>,
  problems: string[],
): Hit[] {
  const hits: Hit[] = [];
  for (const ecosystem of lookup.ecosystems) {
    const scheme = schemeOf(ecosystem);
    if (!scheme) continue;
    const compare = comparator(scheme);
    for (const candidate of candidates.get(`${ecosystem}\0${lookup.name}`) ?? []) {
      try {
        const verdict = evaluateAffected(
          compare,
          lookup.version,
          JSON.parse(candidate.ranges) as AffectedVersions,
        );
        if (verdict.affected)
          hits.push({ recordId: candidate.recordId, ...(verdict.fixed ? { fixed: verdict.fixed } : {}) });
      } catch (error) {
        if (!(error instanceof InvalidVersion)) throw error;
        problems.push(
          `${lookup.name} ${lookup.version} against ${candidate.recordId} (${ecosystem}): ${error.message}`,
        );
      }
    }
  }
  return hits;
}

/**
 * One finding per advisory: records that share an id or alias (DSA-…, DEBIAN-CVE-…, GHSA-… and GO-… naming the
 * same CVE) become one, named by its CVE when it has one.
 */
function findingsOf(pkg: Package, hits: Hit[], records: Map<string, StoredRecord>): Finding[] {
  const groups: { ids: Set<string>; members: { record: StoredRecord; fixed?: string }[] }[] = [];
  for (const hit of hits) {
    const record = records.get(hit.recordId);
    if (!record) continue; // withdrawn
    const ids = new Set([record.id, ...record.aliases]);
    const member = { record, ...(hit.fixed ? { fixed: hit.fixed } : {}) };
    const overlapping = groups.filter((group) => [...ids].some((id) => group.ids.has(id)));
    const merged = { ids, members: [member] };
    for (const group of overlapping) {
      for (const id of group.ids) merged.ids.add(id);
      merged.members.push(...group.members);
      groups.splice(groups.indexOf(group), 1);
    }
    groups.push(merged);
  }
  return groups.map((group) => finding(pkg, group.ids, group.members));
}

function finding(
  pkg: Package,
  ids: Set<string>,
  members: { record: StoredRecord; fixed?: string }[],
): Finding {
  members.sort((a, b) => compareText(a.record.id, b.record.id));
  const sortedIds = [...ids].sort(compareText);
  const id =
    sortedIds.find((candidate) => candidate.startsWith('CVE-')) ??
    (members[0] as { record: StoredRecord }).record.id;
  // The most telling rating: a scored one first, the highest of those; else the highest vendor rating.
  const rated = [...members].sort(
    (a, b) =>
      Number(b.record.score !== undefined) - Number(a.record.score !== undefined) ||
      (b.record.score ?? 0) - (a.record.score ?? 0) ||
      RANK.indexOf(b.record.severity) - RANK.indexOf(a.record.severity),
  )[0]?.record as StoredRecord;
  // Advisories that disagree on the fix: the latest of their fixes is the one that satisfies all of them.
  const fixes = members.flatMap((m) => (m.fixed ? [m.fixed] : []));
  const scheme = fixes.length > 1 ? fixedScheme(pkg) : undefined;
  const fixedVersion = fixes.reduce<string | undefined>((latest, fixed) => {
    if (latest === undefined || !scheme) return latest ?? fixed;
    try {
      return comparator(scheme)(fixed, latest) > 0 ? fixed : latest;
    } catch {
      return latest;
    }
  }, undefined);
  return {
    id,
    aliases: sortedIds.filter((alias) => alias !== id),
    package: { type: pkg.type, name: pkg.name, version: pkg.version, purl: pkg.purl },
    ...(fixedVersion ? { fixedVersion } : {}),
    severity: rated.severity,
    ...(rated.score !== undefined ? { score: rated.score } : {}),
    ...(rated.vector !== undefined ? { vector: rated.vector } : {}),
    ...(members.find((m) => m.record.summary)
      ? { summary: members.find((m) => m.record.summary)?.record.summary }
      : {}),
    links: [...new Set(members.flatMap((m) => m.record.links))],
  };
}

function fixedScheme(pkg: Package) {
  const schemes = {
    deb: 'dpkg',
    apk: 'apk',
    rpm: 'rpm',
    npm: 'semver',
    cargo: 'semver',
    golang: 'go',
    pypi: 'pep440',
    maven: 'maven',
  } as const;
  return schemes[pkg.type];
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
