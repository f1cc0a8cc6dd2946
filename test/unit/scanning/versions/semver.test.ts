// SemVer 2.0.0 precedence (npm, crates.io) and Go module versions (SemVer with a `v`, pseudo-versions).
import { describe, expect, it } from 'vitest';
import { compareVersions, InvalidVersion } from '../../../../src/scanning/versions/index.js';
import { expectAscending, expectTable } from './ordering.js';

describe('SemVer versions', () => {
  it('orders pre-releases as semver.org §11 lists them', () => {
    expectAscending('semver', [
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '2.0.0',
      '2.1.0',
      '2.1.1',
    ]);
  });

  it('ignores build metadata and refuses non-SemVer text', () => {
    expect(compareVersions('semver', '1.0.0+build.1', '1.0.0')).toBe(0);
    expect(() => compareVersions('semver', '1.0', '1.0.0')).toThrow(InvalidVersion);
    expect(() => compareVersions('semver', 'latest', '1.0.0')).toThrow(InvalidVersion);
  });
});

describe('Go versions', () => {
  it('orders module versions, pseudo-versions and +incompatible', () => {
    expectAscending('go', [
      'v0.0.0-20190101000000-abcdefabcdef',
      'v0.0.0-20230101000000-abcdefabcdef',
      'v0.16.0',
      'v0.17.0',
      'v0.17.1-0.20231101000000-abcdefabcdef',
      'v0.17.1',
      'v2.0.0+incompatible',
      'v2.1.0',
    ]);
    expect(compareVersions('go', 'v0.17.0', '0.17.0')).toBe(0);
  });

  it('reads toolchain versions of the stdlib', () => {
    expectTable('go', [
      ['go1.21.3', '1.21.3', 0],
      ['go1.21', '1.21.0', 0],
      ['go1.21rc2', '1.21.0-rc.2', 0],
      ['go1.21rc2', 'go1.21.0', -1],
      ['go1.20.10', 'go1.21.0', -1],
    ]);
    expect(() => compareVersions('go', 'devel +abc', '1.0.0')).toThrow(InvalidVersion);
  });
});
