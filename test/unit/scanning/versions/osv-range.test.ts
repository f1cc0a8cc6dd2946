// OSV's evaluation of affected ranges (https://ossf.github.io/osv-schema/#evaluation), on SemVer and dpkg.
import { describe, expect, it } from 'vitest';
import {
  type AffectedVersions,
  comparator,
  evaluateAffected,
  InvalidVersion,
  type OsvEvent,
} from '../../../../src/scanning/versions/index.js';

const semver = comparator('semver');

function affected(version: string, events: OsvEvent[][], versions?: string[]) {
  const entry: AffectedVersions = { ranges: events.map((e) => ({ type: 'SEMVER', events: e })) };
  if (versions) entry.versions = versions;
  return evaluateAffected(semver, version, entry);
}

describe('OSV range evaluation', () => {
  it('introduced "0" is below every version; fixed is not affected', () => {
    const range = [[{ introduced: '0' }, { fixed: '1.2.0' }]];
    expect(affected('0.0.1', range)).toEqual({ affected: true, fixed: '1.2.0' });
    expect(affected('1.1.9', range)).toEqual({ affected: true, fixed: '1.2.0' });
    expect(affected('1.2.0', range)).toEqual({ affected: false });
    expect(affected('1.2.0-rc.1', range).affected).toBe(true);
    expect(affected('2.0.0', range)).toEqual({ affected: false });
  });

  it('introduced is inclusive', () => {
    const range = [[{ introduced: '1.0.0' }, { fixed: '1.5.0' }]];
    expect(affected('0.9.9', range).affected).toBe(false);
    expect(affected('1.0.0', range).affected).toBe(true);
  });

  it('last_affected is inclusive and has no fix to report', () => {
    const range = [[{ introduced: '1.0.0' }, { last_affected: '1.4.0' }]];
    expect(affected('1.4.0', range)).toEqual({ affected: true });
    expect(affected('1.4.1', range)).toEqual({ affected: false });
  });

  it('an introduced without an end affects everything after it', () => {
    expect(affected('99.0.0', [[{ introduced: '2.0.0' }]]).affected).toBe(true);
    expect(affected('1.0.0', [[{ introduced: '2.0.0' }]]).affected).toBe(false);
  });

  it('several intervals in one range, in any order of events, and the fix of the interval hit', () => {
    const range = [[{ fixed: '2.3.0' }, { introduced: '2.0.0' }, { fixed: '1.5.0' }, { introduced: '0' }]];
    expect(affected('1.4.0', range)).toEqual({ affected: true, fixed: '1.5.0' });
    expect(affected('1.7.0', range)).toEqual({ affected: false });
    expect(affected('2.1.0', range)).toEqual({ affected: true, fixed: '2.3.0' });
    expect(affected('2.3.0', range)).toEqual({ affected: false });
  });

  it('several ranges: affected when any range says so; the lowest fix above the version', () => {
    const ranges = [
      [{ introduced: '7.0.0' }, { fixed: '7.5.2' }],
      [{ introduced: '6.0.0' }, { fixed: '6.3.1' }],
    ];
    expect(affected('6.3.0', ranges)).toEqual({ affected: true, fixed: '6.3.1' });
    expect(affected('7.5.1', ranges)).toEqual({ affected: true, fixed: '7.5.2' });
    expect(affected('6.3.1', ranges)).toEqual({ affected: false });
  });

  it('limit ends a range', () => {
    const range = [[{ introduced: '0' }, { limit: '3.0.0' }]];
    expect(affected('2.9.9', range).affected).toBe(true);
    expect(affected('3.0.0', range).affected).toBe(false);
  });

  it('an introduced and a fix at the same version make an empty range', () => {
    expect(affected('1.0.0', [[{ introduced: '1.0.0' }, { fixed: '1.0.0' }]]).affected).toBe(false);
  });

  it('the versions list affects exactly the versions it names', () => {
    expect(affected('1.0.1', [], ['1.0.1', '1.0.3'])).toEqual({ affected: true });
    expect(affected('1.0.2', [], ['1.0.1', '1.0.3'])).toEqual({ affected: false });
  });

  it('a range without introduced (invalid, but seen) is read from 0: never a silent miss', () => {
    expect(affected('0.5.0', [[{ fixed: '1.0.0' }]]).affected).toBe(true);
    expect(affected('1.0.0', [[{ fixed: '1.0.0' }]]).affected).toBe(false);
  });

  it('uses the ecosystem’s order: dpkg epochs and tildes', () => {
    const dpkg = comparator('dpkg');
    const entry: AffectedVersions = {
      ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1:9.2p1-2+deb12u3' }] }],
    };
    expect(evaluateAffected(dpkg, '1:9.2p1-2+deb12u2', entry).affected).toBe(true);
    expect(evaluateAffected(dpkg, '1:9.2p1-2+deb12u3', entry).affected).toBe(false);
    expect(evaluateAffected(dpkg, '9.9p1-1', entry).affected).toBe(true); // no epoch: older than any 1:
  });

  it('throws InvalidVersion when the installed version is unreadable', () => {
    expect(() => affected('not-a-version', [[{ introduced: '1.0.0' }]])).toThrow(InvalidVersion);
  });
});
