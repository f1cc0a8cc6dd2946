/**
 * `npx tsx bench/scan-match.ts`: the offline vulnerability database at scale (issue 12). Writes 100,000
 * synthetic but valid OSV records across the ecosystems Berth scans (as NDJSON, the API's import format),
 * imports them into a fresh SQLite metadata database in a temp dir, then matches an image's worth of 1,000
 * packages (Debian 12, Alpine 3.19, npm, PyPI, Go, Maven) against it. Prints the import and match times;
 * the target for matching is under a second. Flags: --records=N, --packages=N.
 */

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openDatabase } from '../src/metadata/index.js';
import type { OsRelease, Package, PackageType } from '../src/scanning/types.js';
import { VulnerabilityDatabase } from '../src/scanning/vulndb/index.js';

function flag(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}
const RECORDS = Number(flag('records') ?? 100_000);
const PACKAGES = Number(flag('packages') ?? 1000);

/** Share of records and packages, names per ecosystem, and how versions are written there. */
const ECOSYSTEMS: {
  osv: string;
  type: PackageType;
  share: number;
  names: number;
  version: (major: number, minor: number) => string;
}[] = [
  { osv: 'Debian:12', type: 'deb', share: 0.3, names: 3000, version: (a, b) => `${a}.${b}-1+deb12u${b % 4}` },
  { osv: 'Alpine:v3.19', type: 'apk', share: 0.1, names: 1000, version: (a, b) => `${a}.${b}.1-r${b % 5}` },
  { osv: 'npm', type: 'npm', share: 0.25, names: 5000, version: (a, b) => `${a}.${b}.0` },
  { osv: 'PyPI', type: 'pypi', share: 0.15, names: 3000, version: (a, b) => `${a}.${b}.post1` },
  { osv: 'Go', type: 'golang', share: 0.1, names: 2000, version: (a, b) => `${a}.${b}.0` },
  { osv: 'Maven', type: 'maven', share: 0.1, names: 2000, version: (a, b) => `${a}.${b}.0-beta${b % 3}` },
];
const VECTORS = [
  'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
  'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H',
  'CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H',
  'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N',
];

// A fixed seed: every run benchmarks the same data.
let seed = 12;
/** mulberry32: small, seedable, and without the short low-bit cycles of a plain LCG. */
function random(n: number): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) % n;
}

function packageName(ecosystem: (typeof ECOSYSTEMS)[number], i: number): string {
  if (ecosystem.type === 'maven') return `org.bench${i % 50}:artifact-${i}`;
  if (ecosystem.type === 'golang') return `example.com/bench/mod${i}`;
  return `bench-${ecosystem.type}-${i}`;
}

function osvRecord(ecosystem: (typeof ECOSYSTEMS)[number], n: number) {
  const name = packageName(ecosystem, random(ecosystem.names));
  const major = 1 + random(5);
  const fixedMinor = 1 + random(9);
  const ranges = [
    { type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: ecosystem.version(major, fixedMinor) }] },
    ...(random(3) === 0
      ? [
          {
            type: 'ECOSYSTEM',
            events: [
              { introduced: ecosystem.version(major + 1, 0) },
              { last_affected: ecosystem.version(major + 1, 4) },
            ],
          },
        ]
      : []),
  ];
  return {
    schema_version: '1.6.0',
    id: `BENCH-${ecosystem.type.toUpperCase()}-${n}`,
    modified: new Date(Date.UTC(2024, 0, 1) + n * 60_000).toISOString(),
    published: '2023-06-01T00:00:00Z',
    aliases: [`CVE-2099-${100000 + n}`],
    summary: `Synthetic advisory ${n} for ${name}`,
    severity:
      random(4) === 0
        ? []
        : [{ type: random(4) === 0 ? 'CVSS_V4' : 'CVSS_V3', score: VECTORS[random(VECTORS.length)] }],
    affected: [{ package: { ecosystem: ecosystem.osv, name }, ranges }],
    references: [
      { type: 'ADVISORY', url: `https://example.org/advisories/${n}` },
      { type: 'WEB', url: `https://example.org/bugs/${n}` },
    ],
    database_specific: { severity: 'MODERATE' },
  };
}

function installed(ecosystem: (typeof ECOSYSTEMS)[number]): Package {
  const full = packageName(ecosystem, random(ecosystem.names));
  const version =
    ecosystem.type === 'golang'
      ? `v${ecosystem.version(1 + random(6), random(10))}`
      : ecosystem.version(1 + random(6), random(10));
  const [namespace, name] = ecosystem.type === 'maven' ? full.split(':') : [undefined, full];
  return {
    type: ecosystem.type,
    name: name as string,
    ...(namespace ? { namespace } : {}),
    version,
    ...(ecosystem.type === 'deb' || ecosystem.type === 'apk' ? { source: { name: full } } : {}),
    purl: `pkg:${ecosystem.type}/${full}@${version}`,
    location: '/',
  };
}

export interface MatchBench {
  records: number;
  importMs: number;
  packages: number;
  findings: number;
  matchColdMs: number;
  matchWarmMs: number;
}

/** Imports `records` synthetic OSV records into a fresh SQLite database and matches `packagesCount` packages. */
export async function benchMatch(records = RECORDS, packagesCount = PACKAGES): Promise<MatchBench> {
  const result: MatchBench = {
    records: 0,
    importMs: 0,
    packages: 0,
    findings: 0,
    matchColdMs: 0,
    matchWarmMs: 0,
  };
  const dir = await mkdtemp(join(tmpdir(), 'berth-bench-vulndb-'));
  try {
    const ndjson = join(dir, 'osv.ndjson');
    const out = createWriteStream(ndjson);
    let n = 0;
    for (const ecosystem of ECOSYSTEMS) {
      for (let i = 0; i < Math.round(records * ecosystem.share); i++) {
        if (!out.write(`${JSON.stringify(osvRecord(ecosystem, n++))}\n`)) await once(out, 'drain');
      }
    }
    out.end();
    await once(out, 'finish');

    const { db } = await openDatabase(`sqlite:${join(dir, 'berth.db')}`);
    const vulndb = new VulnerabilityDatabase(db);
    let start = performance.now();
    const report = await vulndb.importFrom(ndjson);
    const importMs = performance.now() - start;
    result.records = report.written;
    result.importMs = importMs;
    console.log(
      `import: ${report.written.toLocaleString('en')} records (invalid ${report.invalid}) in ${(importMs / 1000).toFixed(1)} s` +
        ` (${Math.round(report.written / (importMs / 1000)).toLocaleString('en')} records/s)`,
    );
    start = performance.now();
    const again = await vulndb.importFrom(ndjson);
    console.log(
      `re-import of the same data: ${again.written} written, ${((performance.now() - start) / 1000).toFixed(1)} s`,
    );

    const packages: Package[] = [];
    for (const ecosystem of ECOSYSTEMS) {
      for (let i = 0; i < Math.round(packagesCount * ecosystem.share); i++)
        packages.push(installed(ecosystem));
    }
    // The OS decides which distro ecosystems apply; match the Debian and the Alpine packages each with theirs.
    const debian: OsRelease = { id: 'debian', versionId: '12' };
    const alpine: OsRelease = { id: 'alpine', versionId: '3.19.1' };
    const withoutApk = packages.filter((p) => p.type !== 'apk');
    const apk = packages.filter((p) => p.type === 'apk');
    for (const round of ['cold', 'warm']) {
      start = performance.now();
      const findings = [...(await vulndb.match(withoutApk, debian)), ...(await vulndb.match(apk, alpine))];
      const matchMs = performance.now() - start;
      result.packages = packages.length;
      result.findings = findings.length;
      if (round === 'cold') result.matchColdMs = matchMs;
      else result.matchWarmMs = matchMs;
      console.log(
        `match (${round}): ${packages.length} packages → ${findings.length} findings in ${matchMs.toFixed(0)} ms` +
          (matchMs < 1000 ? ' (target < 1 s: met)' : ' (target < 1 s: MISSED)'),
      );
    }
    await db.destroy();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return result;
}

// Run as a script (bench/scanning.ts imports benchMatch instead).
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await benchMatch();
