// Harbor vulnerability reports ↔ findings: packages resolved through the inventory (binary name, source name,
// npm scope), the distribution's type for packages it does not list, nothing dropped silently, severities and
// CVSS from every place adapters put them; and Berth's findings written back as a v1.1 report.
import { describe, expect, it } from 'vitest';
import {
  type HarborVulnerability,
  type HarborVulnerabilityReport,
  harborReportToFindings,
  toHarborReport,
} from '../../../../src/scanning/adapter/index.js';
import type { Finding, Inventory, Package } from '../../../../src/scanning/types.js';

const DIGEST = `sha256:${'b2'.repeat(32)}`;
const artifact = {
  repository: 'team/app',
  digest: DIGEST,
  mime_type: 'application/vnd.oci.image.manifest.v1+json',
};
const scanner = { name: 'Trivy', vendor: 'Aqua Security', version: '0.50.0' };

const libssl: Package = {
  type: 'deb',
  namespace: 'debian',
  name: 'libssl3',
  version: '3.0.11-1~deb12u2',
  source: { name: 'openssl' },
  purl: 'pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12',
  location: '/var/lib/dpkg/status',
};
const typesNode: Package = {
  type: 'npm',
  namespace: '@babel',
  name: 'traverse',
  version: '7.23.0',
  purl: 'pkg:npm/%40babel/traverse@7.23.0',
  location: '/app/node_modules/@babel/traverse/package.json',
};
const inventory: Pick<Inventory, 'packages' | 'facts'> = {
  packages: [libssl, typesNode],
  facts: {
    user: '',
    runsAsRoot: true,
    exposedPorts: [],
    sshServer: { installed: false },
    os: { id: 'debian', versionId: '12' },
  },
};

function report(vulnerabilities: Partial<HarborVulnerability>[]): HarborVulnerabilityReport {
  return {
    generated_at: '2025-03-04T05:06:07Z',
    artifact,
    scanner,
    vulnerabilities: vulnerabilities.map((v) => ({
      id: 'CVE-0',
      package: 'x',
      version: '1',
      severity: 'Unknown',
      ...v,
    })),
  };
}

describe('Harbor report to findings', () => {
  it('ties each item to the inventory package of that name, source name or npm scope', () => {
    const { findings, unresolved } = harborReportToFindings(
      report([
        { id: 'CVE-2024-1', package: 'libssl3', version: '3.0.11-1~deb12u2', severity: 'High' },
        { id: 'CVE-2024-2', package: 'openssl', version: '3.0.11-1~deb12u2', severity: 'Medium' },
        { id: 'CVE-2023-45133', package: '@babel/traverse', version: '7.23.0', severity: 'Critical' },
      ]),
      inventory,
    );
    expect(unresolved).toEqual([]);
    expect(findings.map((f) => [f.id, f.package.purl])).toEqual([
      ['CVE-2024-1', libssl.purl],
      ['CVE-2024-2', libssl.purl],
      ['CVE-2023-45133', typesNode.purl],
    ]);
  });

  it('gives a package the inventory lacks the distribution’s type, and keeps the rest as unresolved', () => {
    const items = [
      { id: 'CVE-2024-3', package: 'zlib1g', version: '1:1.2.13.dfsg-1', severity: 'Low' as const },
      { id: 'GHSA-xxxx', package: 'left-pad', version: '1.0.0', severity: 'High' as const },
    ];
    const withOs = harborReportToFindings(report(items), { ...inventory, packages: [libssl] });
    expect(withOs.unresolved).toEqual([]);
    expect(withOs.findings[0]?.package).toEqual({
      type: 'deb',
      name: 'zlib1g',
      version: '1:1.2.13.dfsg-1',
      purl: 'pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1',
    });

    const none = harborReportToFindings(report(items));
    expect(none.findings).toEqual([]);
    expect(none.unresolved.map((v) => v.id)).toEqual(['CVE-2024-3', 'GHSA-xxxx']);
  });

  it.each([
    ['Negligible', 'Low'],
    ['Unknown', 'Unknown'],
    ['Low', 'Low'],
    ['Medium', 'Medium'],
    ['High', 'High'],
    ['Critical', 'Critical'],
    ['SEVERE', 'Unknown'],
  ])('maps severity %s to %s', (given, expected) => {
    const item = {
      package: 'libssl3',
      version: libssl.version,
      severity: given as HarborVulnerability['severity'],
    };
    expect(harborReportToFindings(report([item]), inventory).findings[0]?.severity).toBe(expected);
  });

  it('reads CVSS from preferred_cvss, the 1.0 fields and Trivy’s vendor attributes, and nothing else', () => {
    const base = { package: 'libssl3', version: libssl.version };
    const { findings } = harborReportToFindings(
      report([
        {
          ...base,
          id: 'A',
          preferred_cvss: { score_v3: 9.8, vector_v3: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' },
        },
        { ...base, id: 'B', cve3_score: '5.3', cvss3_vector: 'CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N' },
        {
          ...base,
          id: 'C',
          vendor_attributes: { CVSS: { nvd: { V3Score: 7.5, V3Vector: 'CVSS:3.1/AV:N' } } },
        },
        { ...base, id: 'D', preferred_cvss: { score_v2: 4.3, vector_v2: 'AV:N/AC:M/Au:N/C:N/I:P/A:N' } },
        { ...base, id: 'E', preferred_cvss: { score_v3: 42 } },
        { ...base, id: 'F' },
      ]),
      inventory,
    );
    expect(findings.map((f) => [f.id, f.score, f.vector])).toEqual([
      ['A', 9.8, 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'],
      ['B', 5.3, 'CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N'],
      ['C', 7.5, 'CVSS:3.1/AV:N'],
      ['D', 4.3, 'AV:N/AC:M/Au:N/C:N/I:P/A:N'],
      ['E', undefined, undefined],
      ['F', undefined, undefined],
    ]);
  });
});

describe('findings to a Harbor report', () => {
  const findings: Finding[] = [
    {
      id: 'CVE-2024-2',
      aliases: ['DSA-5000-1'],
      package: { type: 'deb', name: 'libssl3', version: libssl.version, purl: libssl.purl },
      severity: 'Medium',
      score: 5.9,
      vector: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N',
      links: ['https://security-tracker.debian.org/tracker/CVE-2024-2'],
    },
    {
      id: 'CVE-2023-45133',
      aliases: ['GHSA-67hx-6x53-jw92'],
      package: { type: 'npm', name: 'traverse', version: '7.23.0', purl: typesNode.purl },
      fixedVersion: '7.23.2',
      severity: 'Critical',
      summary:
        'Babel vulnerable to arbitrary code execution when compiling specifically crafted malicious code',
      links: [],
    },
    {
      id: 'CVE-2010-1',
      aliases: [],
      package: { type: 'deb', name: 'libssl3', version: libssl.version, purl: libssl.purl },
      severity: 'Low',
      score: 4.3,
      vector: 'AV:N/AC:M/Au:N/C:N/I:P/A:N',
      links: [],
    },
  ];
  const context = {
    scanner: { name: 'Berth', vendor: 'Berth', version: '0.1.0' },
    generatedAt: new Date(0),
    artifact,
  };

  it('writes the v1.1 report: most severe first, the highest severity on top, CVSS in its version’s fields', () => {
    const harbor = toHarborReport(findings, context);
    expect(harbor).toMatchObject({
      generated_at: '1970-01-01T00:00:00.000Z',
      artifact,
      scanner: context.scanner,
      severity: 'Critical',
    });
    expect(harbor.vulnerabilities.map((v) => v.id)).toEqual(['CVE-2023-45133', 'CVE-2024-2', 'CVE-2010-1']);
    expect(harbor.vulnerabilities[0]).toEqual({
      id: 'CVE-2023-45133',
      package: 'traverse',
      version: '7.23.0',
      fix_version: '7.23.2',
      severity: 'Critical',
      description:
        'Babel vulnerable to arbitrary code execution when compiling specifically crafted malicious code',
      links: [],
      vendor_attributes: { purl: typesNode.purl, package_type: 'npm', aliases: ['GHSA-67hx-6x53-jw92'] },
    });
    expect(harbor.vulnerabilities[1]?.preferred_cvss).toEqual({
      score_v3: 5.9,
      vector_v3: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N',
    });
    expect(harbor.vulnerabilities[2]?.preferred_cvss).toEqual({
      score_v2: 4.3,
      vector_v2: 'AV:N/AC:M/Au:N/C:N/I:P/A:N',
    });
  });

  it('leaves severity out of a report with no findings', () => {
    const empty = toHarborReport([], context);
    expect(empty.vulnerabilities).toEqual([]);
    expect('severity' in empty).toBe(false);
  });

  it('reads back, through the inventory, to the same findings', () => {
    const { findings: back, unresolved } = harborReportToFindings(
      toHarborReport(findings, context),
      inventory,
    );
    expect(unresolved).toEqual([]);
    const sortById = (list: Finding[]) => [...list].sort((a, b) => a.id.localeCompare(b.id));
    expect(sortById(back)).toEqual(sortById(findings));
  });
});
