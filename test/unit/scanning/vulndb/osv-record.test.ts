// Validation of OSV records: what a record must have, what is kept, and what is left out.
import { describe, expect, it } from 'vitest';
import { InvalidRecord, parseOsvRecord } from '../../../../src/scanning/vulndb/index.js';

const valid = {
  id: 'GHSA-xxxx-yyyy-zzzz',
  modified: '2024-06-21T21:33:53Z',
  published: '2023-06-21T06:30:28Z',
  aliases: ['CVE-2022-25883'],
  details: 'First line of the details.\nMore.',
  affected: [
    {
      package: { ecosystem: 'PyPI', name: 'Foo_Bar.baz' },
      ranges: [
        { type: 'GIT', repo: 'https://example.org/r.git', events: [{ introduced: 'abc' }] },
        { type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.0' }] },
      ],
    },
    {
      package: { ecosystem: 'RubyGems', name: 'rails' },
      ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }],
    },
    { package: { ecosystem: 'Ubuntu:22.04:LTS', name: 'openssl' }, versions: ['3.0.2-0ubuntu1.10'] },
    {
      package: { ecosystem: 'Ubuntu:Pro:18.04:LTS', name: 'openssl' },
      versions: ['1.1.1-1ubuntu2.1~18.04.20'],
    },
    { ranges: [{ type: 'GIT', repo: 'https://example.org/r.git', events: [{ introduced: '0' }] }] },
  ],
  references: [
    { type: 'WEB', url: 'https://example.org/a' },
    { type: 'WEB', url: 'https://example.org/a' },
  ],
};

function refusal(record: unknown): string {
  try {
    parseOsvRecord(record);
  } catch (error) {
    if (error instanceof InvalidRecord) return error.message;
    throw error;
  }
  throw new Error('the record was accepted');
}

describe('OSV record validation', () => {
  it('keeps the scannable packages under their index keys, without GIT ranges', () => {
    const record = parseOsvRecord(valid);
    expect(record).toMatchObject({
      id: 'GHSA-xxxx-yyyy-zzzz',
      modified: Date.parse('2024-06-21T21:33:53Z'),
      published: Date.parse('2023-06-21T06:30:28Z'),
      summary: 'First line of the details.',
      aliases: ['CVE-2022-25883'],
      links: ['https://example.org/a'],
      severity: 'Unknown',
    });
    expect(record.affected).toEqual([
      {
        ecosystem: 'PyPI',
        name: 'foo-bar-baz',
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.0' }] }],
      },
      { ecosystem: 'Ubuntu:22.04', name: 'openssl', ranges: [], versions: ['3.0.2-0ubuntu1.10'] },
    ]);
  });

  it('reads withdrawn and the upstream ids', () => {
    const record = parseOsvRecord({
      ...valid,
      withdrawn: '2024-07-01T00:00:00Z',
      upstream: ['CVE-2022-25883', 'CVE-2000-1'],
    });
    expect(record.withdrawn).toBe(Date.parse('2024-07-01T00:00:00Z'));
    expect(record.aliases).toEqual(['CVE-2022-25883', 'CVE-2000-1']);
  });

  it.each([
    [[], 'a record is a JSON object'],
    [{ ...valid, id: '' }, 'id is missing'],
    [{ ...valid, id: 42 }, 'id is missing'],
    [{ ...valid, modified: undefined }, 'modified is missing'],
    [{ ...valid, modified: 'yesterday' }, "modified 'yesterday' is not an RFC 3339 time"],
    [{ ...valid, aliases: 'CVE-1' }, 'aliases is not an array'],
    [
      { ...valid, affected: [{ package: { ecosystem: 'npm' }, versions: ['1'] }] },
      'affected[0].package.name is missing',
    ],
    [
      { ...valid, affected: [{ package: { name: 'x' }, versions: ['1'] }] },
      'affected[0].package.ecosystem is missing',
    ],
    [
      {
        ...valid,
        affected: [{ package: { ecosystem: 'npm', name: 'x' }, ranges: [{ type: 'SEMVER', events: [] }] }],
      },
      'affected[0].ranges[0].events is empty',
    ],
    [
      {
        ...valid,
        affected: [
          {
            package: { ecosystem: 'npm', name: 'x' },
            ranges: [{ type: 'SEMVER', events: [{ introduced: '1', fixed: '2' }] }],
          },
        ],
      },
      'affected[0].ranges[0].events[0] must have exactly one of',
    ],
    [
      {
        ...valid,
        affected: [
          { package: { ecosystem: 'npm', name: 'x' }, ranges: [{ type: 'SEMVER', events: [{ fixed: 2 }] }] },
        ],
      },
      'affected[0].ranges[0].events[0].fixed is not a version',
    ],
    [
      {
        ...valid,
        affected: [
          {
            package: { ecosystem: 'npm', name: 'x' },
            ranges: [{ type: 'DATE', events: [{ introduced: '0' }] }],
          },
        ],
      },
      "affected[0].ranges[0].type 'DATE' is not ECOSYSTEM, SEMVER or GIT",
    ],
    [{ ...valid, severity: [{ type: 'CVSS_V3' }] }, 'severity[0] needs a type and a score'],
  ])('refuses %j', (record, message) => {
    expect(refusal(record)).toContain(message);
  });

  it('names the record in its refusal', () => {
    expect(refusal({ ...valid, modified: 'yesterday' })).toMatch(/^GHSA-xxxx-yyyy-zzzz: /);
  });
});
