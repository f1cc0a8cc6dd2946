// Alpine's apk version rules (Gentoo's): numbers, a letter, suffixes (_alpha, _beta, _pre, _rc below the
// release; _cvs, _svn, _git, _hg, _p above it), and the package revision -rN.
import { describe, expect, it } from 'vitest';
import { compareVersions, InvalidVersion } from '../../../../src/scanning/versions/index.js';
import { expectAscending, expectTable } from './ordering.js';

describe('apk versions', () => {
  it('orders the suffixes around the release', () => {
    expectAscending('apk', [
      '1.0_alpha',
      '1.0_alpha1',
      '1.0_alpha2',
      '1.0_beta',
      '1.0_pre',
      '1.0_rc1',
      '1.0_rc2',
      '1.0',
      '1.0_cvs',
      '1.0_svn',
      '1.0_git20240101',
      '1.0_hg',
      '1.0_p1',
      '1.0_p2',
      '1.0_p10',
    ]);
  });

  it('orders numbers, letters and revisions', () => {
    expectAscending('apk', [
      '0.9',
      '1.0',
      '1.0-r1',
      '1.0-r2',
      '1.0-r10',
      '1.0a',
      '1.0b',
      '1.0.1',
      '1.1',
      '1.10',
      '2',
    ]);
  });

  it('compares real Alpine package versions', () => {
    expectTable('apk', [
      ['3.1.4-r5', '3.1.4-r6', -1],
      ['3.1.4-r6', '3.1.4-r5', 1],
      ['3.1.4-r5', '3.1.4-r5', 0],
      ['3.1.4-r5', '3.1.5-r0', -1],
      ['1.36.1-r15', '1.36.1-r2', 1],
      ['8.5.0-r0', '8.4.0-r0', 1],
      ['2.38-r7', '2.38_p1-r0', -1],
      ['1.2.3_rc1-r0', '1.2.3-r0', -1],
      ['1.0_rc', '1.0_rc0', 0],
      ['1.01', '1.1', -1],
      ['1.0', '1.0-r0', 0],
    ]);
  });

  it('refuses what is not an apk version', () => {
    expect(() => compareVersions('apk', '1.0-beta', '1.0')).toThrow(InvalidVersion);
    expect(() => compareVersions('apk', 'v1.0', '1.0')).toThrow(InvalidVersion);
    expect(() => compareVersions('apk', '1.0_foo', '1.0')).toThrow(InvalidVersion);
  });
});
