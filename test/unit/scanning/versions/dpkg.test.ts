// Debian Policy §5.6.12 and dpkg's own rules: epoch first, then upstream and revision compared by alternating
// non-digit runs (`~` before everything, even the end; letters before non-letters) and digit runs by value.
import { describe, expect, it } from 'vitest';
import { compareVersions, InvalidVersion } from '../../../../src/scanning/versions/index.js';
import { expectAscending, expectTable } from './ordering.js';

describe('dpkg versions', () => {
  it('orders ~ before the end, the end before letters, letters before other characters (Policy example)', () => {
    expectAscending('dpkg', ['1.0~~', '1.0~~a', '1.0~', '1.0', '1.0a', '1.0+', '1.0.1']);
  });

  it('compares digit runs by value, not as text', () => {
    expectAscending('dpkg', ['2.4', '2.30', '2.100', '10.0']);
  });

  it('compares the epoch first', () => {
    expectTable('dpkg', [
      ['1:1.0', '2.0', 1],
      ['1:9.2p1-2', '9.3p1-1', 1],
      ['0:1.0', '1.0', 0],
      ['2:1.0', '10:0.1', -1],
    ]);
  });

  it('compares the Debian revision after the upstream version; a missing revision is 0', () => {
    expectTable('dpkg', [
      ['1.0-1', '1.0-2', -1],
      ['1.0-10', '1.0-9', 1],
      ['1.0', '1.0-0', 0],
      ['1.0-1', '1.0.1-0', -1],
      ['1.2-3-4', '1.2-3-5', -1],
      ['1:9.2p1-2+deb12u2', '1:9.2p1-2+deb12u3', -1],
      ['1:9.2p1-2', '1:9.2p1-2+deb12u3', -1],
      ['3.0.11-1~deb12u2', '3.0.11-1', -1],
      ['3.0.13-1~deb12u1', '3.0.11-1~deb12u2', 1],
      ['2.36-9+deb12u4', '2.36-9+deb12u10', -1],
    ]);
  });

  it('refuses what is not a dpkg version', () => {
    expect(() => compareVersions('dpkg', 'a1.0', '1.0')).toThrow(InvalidVersion);
    expect(() => compareVersions('dpkg', 'x:1.0', '1.0')).toThrow(InvalidVersion);
    expect(() => compareVersions('dpkg', '1.0-', '1.0')).toThrow(InvalidVersion);
    expect(() => compareVersions('dpkg', '', '1.0')).toThrow(InvalidVersion);
  });
});
