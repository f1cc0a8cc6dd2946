// Harbor vulnerability reports (v1.1) to Berth's findings and back. A Harbor item names its package only by
// name and version, so the inventory of the same image supplies the ecosystem and purl; Berth's own reports are
// served in Harbor's format for clients that read it.
import { PackageURL } from 'packageurl-js';
import type { Finding, Inventory, Package, PackageType, Severity } from '../types.js';
import type {
  HarborArtifact,
  HarborScanner,
  HarborSeverity,
  HarborVulnerability,
  HarborVulnerabilityReport,
} from './harbor-api.js';

export interface ConvertedReport {
  findings: Finding[];
  /** Items tied to no package of the inventory and of no known distribution: shown, never silently dropped. */
  unresolved: HarborVulnerability[];
}

const SEVERITY: Record<string, Severity> = {
  Unknown: 'Unknown',
  // Berth's scale has no Negligible: it is a real, low-impact problem, so Low rather than Unknown.
  Negligible: 'Low',
  Low: 'Low',
  Medium: 'Medium',
  High: 'High',
  Critical: 'Critical',
};

/** The distribution's package type, for items the inventory does not name (the spec: "an OS package"). */
const OS_PACKAGE_TYPE: Record<string, PackageType> = {
  debian: 'deb',
  ubuntu: 'deb',
  alpine: 'apk',
  wolfi: 'apk',
  rhel: 'rpm',
  centos: 'rpm',
  fedora: 'rpm',
  rocky: 'rpm',
  almalinux: 'rpm',
  amzn: 'rpm',
  ol: 'rpm',
  sles: 'rpm',
  'opensuse-leap': 'rpm',
};

export function harborReportToFindings(
  report: HarborVulnerabilityReport,
  inventory?: Pick<Inventory, 'packages' | 'facts'>,
): ConvertedReport {
  const byName = new Map<string, Package[]>();
  const bySource = new Map<string, Package[]>();
  for (const pkg of inventory?.packages ?? []) {
    push(byName, pkg.name, pkg);
    if (pkg.namespace && (pkg.type === 'npm' || pkg.type === 'maven')) {
      push(byName, pkg.type === 'npm' ? `${pkg.namespace}/${pkg.name}` : `${pkg.namespace}:${pkg.name}`, pkg);
    }
    if (pkg.source) push(bySource, pkg.source.name, pkg);
  }
  const os = inventory?.facts.os;
  const osType = os ? OS_PACKAGE_TYPE[os.id] : undefined;

  const findings: Finding[] = [];
  const unresolved: HarborVulnerability[] = [];
  for (const item of report.vulnerabilities) {
    const version = typeof item.version === 'string' ? item.version : '';
    const pkg =
      byName.get(item.package)?.find((p) => p.version === version) ??
      bySource.get(item.package)?.find((p) => (p.source?.version ?? p.version) === version) ??
      byName.get(item.package)?.[0];
    let target: Finding['package'] | undefined;
    if (pkg) {
      target = { type: pkg.type, name: pkg.name, version: pkg.version, purl: pkg.purl };
    } else if (os && osType) {
      const purl = new PackageURL(osType, os.id, item.package, version || undefined, undefined, undefined);
      target = { type: osType, name: item.package, version, purl: purl.toString() };
    }
    if (!target) {
      unresolved.push(item);
      continue;
    }
    findings.push({ ...findingOf(item), package: target });
  }
  return { findings, unresolved };
}

function findingOf(item: HarborVulnerability): Omit<Finding, 'package'> {
  const { score, vector } = cvssOf(item);
  return {
    id: item.id,
    aliases: aliasesOf(item),
    ...(typeof item.fix_version === 'string' && item.fix_version !== ''
      ? { fixedVersion: item.fix_version }
      : {}),
    severity: SEVERITY[item.severity] ?? 'Unknown',
    ...(score === undefined ? {} : { score }),
    ...(vector === undefined ? {} : { vector }),
    ...(typeof item.description === 'string' && item.description !== '' ? { summary: item.description } : {}),
    links: Array.isArray(item.links) ? item.links.filter((link) => typeof link === 'string') : [],
  };
}

/** Berth's own reports carry the other ids of an advisory in vendor_attributes.aliases. */
function aliasesOf(item: HarborVulnerability): string[] {
  const aliases = item.vendor_attributes?.aliases;
  return Array.isArray(aliases) ? aliases.filter((alias): alias is string => typeof alias === 'string') : [];
}

/**
 * The CVSS score and vector, from where adapters put them: `preferred_cvss` (v1.1), the older `cve3_score`
 * / `cvss3_vector` strings, or Trivy's `vendor_attributes.CVSS.<source>.V3Score/V3Vector`.
 */
function cvssOf(item: HarborVulnerability): { score?: number; vector?: string } {
  const candidates: [unknown, unknown][] = [
    [item.preferred_cvss?.score_v3, item.preferred_cvss?.vector_v3],
    [item.cve3_score === undefined ? undefined : Number(item.cve3_score), item.cvss3_vector],
  ];
  const cvss = item.vendor_attributes?.CVSS;
  if (typeof cvss === 'object' && cvss !== null) {
    for (const source of Object.values(cvss as Record<string, { V3Score?: unknown; V3Vector?: unknown }>)) {
      candidates.push([source?.V3Score, source?.V3Vector]);
    }
  }
  candidates.push([item.preferred_cvss?.score_v2, item.preferred_cvss?.vector_v2]);
  for (const [score, vector] of candidates) {
    const validScore = typeof score === 'number' && Number.isFinite(score) && score >= 0 && score <= 10;
    const validVector = typeof vector === 'string' && vector !== '';
    if (validScore || validVector) {
      return { ...(validScore ? { score } : {}), ...(validVector ? { vector } : {}) };
    }
  }
  return {};
}

const RANK: Record<Severity, number> = { Unknown: 0, Low: 1, Medium: 2, High: 3, Critical: 4 };

export interface HarborReportContext {
  scanner: HarborScanner;
  generatedAt: Date;
  artifact: HarborArtifact;
}

/** Findings as a Harbor vulnerability report v1.1: most severe first, `severity` the highest of them. */
export function toHarborReport(
  findings: readonly Finding[],
  context: HarborReportContext,
): HarborVulnerabilityReport {
  const sorted = [...findings].sort(
    (a, b) =>
      RANK[b.severity] - RANK[a.severity] || compare(a.id, b.id) || compare(a.package.purl, b.package.purl),
  );
  const highest = sorted[0]?.severity;
  return {
    generated_at: context.generatedAt.toISOString(),
    artifact: context.artifact,
    scanner: context.scanner,
    ...(highest ? { severity: highest as HarborSeverity } : {}),
    vulnerabilities: sorted.map((finding) => ({
      id: finding.id,
      package: finding.package.name,
      version: finding.package.version,
      ...(finding.fixedVersion ? { fix_version: finding.fixedVersion } : {}),
      severity: finding.severity,
      ...(finding.summary ? { description: finding.summary } : {}),
      links: finding.links,
      ...(finding.score !== undefined || finding.vector
        ? { preferred_cvss: cvssFields(finding.score, finding.vector) }
        : {}),
      vendor_attributes: {
        purl: finding.package.purl,
        package_type: finding.package.type,
        ...(finding.aliases.length > 0 ? { aliases: finding.aliases } : {}),
      },
    })),
  };
}

/** A CVSS 2 vector has no `CVSS:` prefix; 3.x and 4.0 ones do, and go in the v3 fields (Harbor has no v4). */
function cvssFields(score: number | undefined, vector: string | undefined) {
  const v2 = vector !== undefined && !vector.startsWith('CVSS:');
  return v2
    ? { ...(score === undefined ? {} : { score_v2: score }), vector_v2: vector }
    : { ...(score === undefined ? {} : { score_v3: score }), ...(vector ? { vector_v3: vector } : {}) };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
