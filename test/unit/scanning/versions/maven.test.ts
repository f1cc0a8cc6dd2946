// Maven's ComparableVersion: the orderings and equalities of Maven's own ComparableVersionTest.
import { describe, it } from 'vitest';
import { expectAscending, expectTable } from './ordering.js';

describe('Maven versions', () => {
  it('orders qualifiers: alpha < beta < milestone < rc = cr < snapshot < release < sp < unknown', () => {
    expectAscending('maven', [
      '1-alpha2snapshot',
      '1-alpha2',
      '1-alpha-123',
      '1-beta-2',
      '1-beta123',
      '1-m2',
      '1-m11',
      '1-rc',
      '1-cr2',
      '1-rc123',
      '1-SNAPSHOT',
      '1',
      '1-sp',
      '1-sp2',
      '1-sp123',
      '1-abc',
      '1-def',
      '1-pom-1',
      '1-1-snapshot',
      '1-1',
      '1-2',
      '1-123',
    ]);
  });

  it('orders numbers and mixed items', () => {
    expectAscending('maven', [
      '2.0',
      '2.0.a',
      '2-1',
      '2.0.2',
      '2.0.123',
      '2.1.0',
      '2.1-a',
      '2.1b',
      '2.1-c',
      '2.1-1',
      '2.1.0.1',
      '2.2',
      '2.123',
      '11.a2',
      '11.a11',
      '11.b2',
      '11.b11',
      '11.m2',
      '11.m11',
      '11',
      '11.a',
      '11b',
      '11c',
      '11m',
    ]);
  });

  it('treats zeros, release aliases, single-letter qualifiers and case as Maven does', () => {
    expectTable('maven', [
      ['1', '1.0', 0],
      ['1', '1.0.0', 0],
      ['1.0', '1.0.0', 0],
      ['1', '1-0', 0],
      ['1', '1.0-0', 0],
      ['1-ga', '1', 0],
      ['1-final', '1', 0],
      ['1-release', '1', 0],
      ['1-GA', '1-ga', 0],
      ['1a1', '1-alpha-1', 0],
      ['1b2', '1-beta-2', 0],
      ['1m3', '1-milestone-3', 0],
      ['1-cr', '1-rc', 0],
      ['1-SNAPSHOT', '1-snapshot', 0],
      ['2.12.7.1', '2.12.7', 1],
      ['2.13.4', '2.13.4.2', -1],
      ['5.3.18', '5.3.19', -1],
      ['2.9.10.8', '2.9.10.7', 1],
    ]);
  });
});
