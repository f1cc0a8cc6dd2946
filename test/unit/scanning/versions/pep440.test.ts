// PEP 440: the ordering of the specification's "summary of permitted suffixes and relative ordering".
import { describe, expect, it } from 'vitest';
import { compareVersions, InvalidVersion } from '../../../../src/scanning/versions/index.js';
import { expectAscending, expectTable } from './ordering.js';

describe('PEP 440 versions', () => {
  it('orders dev, pre, post and local releases as the specification lists them', () => {
    expectAscending('pep440', [
      '1.dev0',
      '1.0.dev456',
      '1.0a1',
      '1.0a2.dev456',
      '1.0a12.dev456',
      '1.0a12',
      '1.0b1.dev456',
      '1.0b2',
      '1.0b2.post345.dev456',
      '1.0b2.post345',
      '1.0rc1.dev456',
      '1.0rc1',
      '1.0',
      '1.0+abc.5',
      '1.0+abc.7',
      '1.0+5',
      '1.0.post456.dev34',
      '1.0.post456',
      '1.0.15',
      '1.1.dev1',
    ]);
  });

  it('compares epochs first and normalises spellings', () => {
    expectTable('pep440', [
      ['1!1.0', '2.0', 1],
      ['2.31.0', '2.30.0', 1],
      ['1.0', '1.0.0', 0],
      ['1.0alpha1', '1.0a1', 0],
      ['1.0-post1', '1.0.post1', 0],
      ['v1.0', '1.0', 0],
    ]);
  });

  it('refuses what is not a PEP 440 version', () => {
    expect(() => compareVersions('pep440', 'not a version', '1.0')).toThrow(InvalidVersion);
  });
});
