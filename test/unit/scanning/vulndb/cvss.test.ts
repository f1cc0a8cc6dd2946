// ae-cvss-calculator checked against FIRST's published example vectors (CVSS v3.1 specification examples,
// CVSS v4.0 examples document), and the rating bands.
import { describe, expect, it } from 'vitest';
import { cvssBaseScore, parseOsvRecord, severityOfScore } from '../../../../src/scanning/vulndb/index.js';

describe('CVSS base scores', () => {
  it.each([
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8],
    ['CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H', 8.1],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H', 7.5],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H', 10],
    ['CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N', 6.1],
    ['CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H', 5.5],
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', 9.3],
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N', 6.9],
    ['CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', 7.3],
    ['CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U', 5.2],
    ['CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N', 4.6],
    [
      'CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:L/VA:L/SC:N/SI:N/SA:N/CR:H/IR:L/AR:L/MAV:N/MAC:H/MVC:H/MVI:L/MVA:L',
      8.1,
    ],
  ])('%s = %s', (vector, score) => {
    expect(cvssBaseScore(vector)).toBe(score);
  });

  it('refuses incomplete and foreign vectors instead of scoring them 0', () => {
    expect(cvssBaseScore('CVSS:3.1/AV:N/AC:L/PR:N')).toBeUndefined();
    expect(cvssBaseScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:X')).toBeUndefined();
    expect(cvssBaseScore('AV:N/AC:L/Au:N/C:P/I:P/A:P')).toBeUndefined();
    expect(cvssBaseScore('garbage')).toBeUndefined();
  });

  it('rates by the CVSS bands', () => {
    expect([0, 0.1, 3.9, 4, 6.9, 7, 8.9, 9, 10].map(severityOfScore)).toEqual([
      'Unknown',
      'Low',
      'Low',
      'Medium',
      'Medium',
      'High',
      'High',
      'Critical',
      'Critical',
    ]);
  });
});

describe('a record’s severity', () => {
  const record = (extra: object) =>
    parseOsvRecord({
      id: 'TEST-1',
      modified: '2024-01-01T00:00:00Z',
      affected: [{ package: { ecosystem: 'npm', name: 'x' }, versions: ['1.0.0'] }],
      ...extra,
    });

  it('prefers a vector (v3 over v4) to the database’s own rating', () => {
    const parsed = record({
      severity: [
        { type: 'CVSS_V4', score: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N' },
        { type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H' },
      ],
      database_specific: { severity: 'MODERATE' },
    });
    expect(parsed).toMatchObject({
      severity: 'High',
      score: 7.5,
      vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H',
    });
    expect(
      record({
        severity: [
          { type: 'CVSS_V4', score: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N' },
        ],
      }),
    ).toMatchObject({ severity: 'Critical', score: 9.3 });
  });

  it('falls back to GHSA, Debian and Ubuntu ratings, else Unknown', () => {
    expect(record({ database_specific: { severity: 'MODERATE' } })).toMatchObject({ severity: 'Medium' });
    expect(record({ database_specific: { severity: 'CRITICAL' } }).score).toBeUndefined();
    expect(
      record({
        affected: [
          {
            package: { ecosystem: 'Debian:12', name: 'x' },
            versions: ['1'],
            ecosystem_specific: { urgency: 'unimportant' },
          },
        ],
      }),
    ).toMatchObject({ severity: 'Low' });
    expect(record({ severity: [{ type: 'Ubuntu', score: 'high' }] })).toMatchObject({ severity: 'High' });
    expect(record({ database_specific: { severity: 'not yet assigned' } })).toMatchObject({
      severity: 'Unknown',
    });
    expect(record({})).toMatchObject({ severity: 'Unknown' });
  });
});
