import { describe, expect, it } from 'vitest';
import { RegistryError } from '../../src/registry/errors.js';
import {
  assertRepositoryName,
  isValidRepositoryName,
  isValidTag,
  MAX_NAME_LENGTH,
} from '../../src/registry/names.js';

/** A name of exactly `length` characters made of valid two-character components: `ab/ab/…/a`. */
function nameOfLength(length: number): string {
  return 'ab/'
    .repeat(Math.ceil(length / 3))
    .slice(0, length)
    .replace(/\/$/, 'c');
}

describe('isValidRepositoryName', () => {
  it.each([
    'a',
    '0',
    'abc',
    'library',
    'a0b1',
    'a.b',
    'a.b.c',
    'a_b',
    'a__b',
    'a-b',
    'a--b',
    'a---b',
    'a.b_c__d-e---f',
    'a/b',
    'a/b/c',
    'library/ubuntu',
    'my-org/my.team/my_app__v2',
    '1/2/3/4/5/6/7/8/9',
    'a'.repeat(MAX_NAME_LENGTH),
    nameOfLength(255),
  ])('accepts %j', (name) => {
    expect(isValidRepositoryName(name)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['triple underscore', 'a___b'],
    ['leading separator .', '.a'],
    ['leading separator _', '_a'],
    ['leading separator -', '-a'],
    ['trailing separator .', 'a.'],
    ['trailing separator _', 'a_'],
    ['trailing separator -', 'a-'],
    ['two dots', 'a..b'],
    ['mixed separators ._', 'a._b'],
    ['mixed separators -_', 'a-_b'],
    ['mixed separators _-', 'a_-b'],
    ['mixed separators .-', 'a.-b'],
    ['empty component', 'a//b'],
    ['leading slash', '/a'],
    ['trailing slash', 'a/'],
    ['only a slash', '/'],
    ['component starting with a separator', 'a/-b'],
    ['component ending with a separator', 'a/b./c'],
    ['uppercase', 'A'],
    ['mixed case', 'Library/Ubuntu'],
    ['uppercase in a later component', 'library/Ubuntu'],
    ['space', 'a b'],
    ['colon', 'a:b'],
    ['at sign', 'a@b'],
    ['backslash', 'a\\b'],
    ['plus', 'a+b'],
    ['non-ASCII letter', 'caf\u00e9'],
    ['trailing newline', 'a\n'],
    ['leading whitespace', ' a'],
    ['tag reference', 'a:latest'],
    ['dot component', 'a/./b'],
    ['dot-dot component', 'a/../b'],
    ['256 characters of one component', 'a'.repeat(MAX_NAME_LENGTH + 1)],
    ['256 characters of several components', nameOfLength(256)],
  ])('rejects %s (%j)', (_label, name) => {
    expect(isValidRepositoryName(name)).toBe(false);
  });

  it('builds the length fixtures it claims to', () => {
    expect(nameOfLength(255)).toHaveLength(255);
    expect(nameOfLength(256)).toHaveLength(256);
    expect(MAX_NAME_LENGTH).toBe(255);
  });

  it('rejects very long pathological input promptly', () => {
    const started = Date.now();
    expect(isValidRepositoryName(`${'a-'.repeat(50_000)}!`)).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('assertRepositoryName', () => {
  it.each(['a', 'a/b/c', 'a__b', 'a---b'])('returns the valid name %j', (name) => {
    expect(assertRepositoryName(name)).toBe(name);
  });

  it.each([
    ['a grammar violation', 'A/b', /must match/],
    ['an empty name', '', /must match/],
    ['a name of 256 characters', 'a'.repeat(256), /longer than 255/],
  ])('throws NAME_INVALID (400) for %s', (_label, name, message) => {
    let caught: unknown;
    try {
      assertRepositoryName(name);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RegistryError);
    const error = caught as RegistryError;
    expect(error.code).toBe('NAME_INVALID');
    expect(error.status).toBe(400);
    expect(error.message).toMatch(message);
    expect(error.detail).toEqual({ name });
  });
});

describe('isValidTag', () => {
  it.each([
    'latest',
    'v1',
    'v1.2.3',
    '1.0.0-rc.1',
    'sha-abc123',
    'UPPER',
    'MiXeD_case',
    '_leading-underscore',
    '0',
    'a',
    '_',
    'a..b',
    'a--b',
    'a__b',
    'a.',
    'a-',
    'a'.repeat(128),
    `_${'x'.repeat(127)}`,
  ])('accepts %j', (tag) => {
    expect(isValidTag(tag)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['leading dash', '-tag'],
    ['leading dot', '.tag'],
    ['129 characters', 'a'.repeat(129)],
    ['slash', 'a/b'],
    ['colon', 'a:b'],
    ['at sign', 'a@b'],
    ['plus', '1.0+build'],
    ['space', 'a b'],
    ['trailing newline', 'latest\n'],
    ['non-ASCII letter', 't\u00e4g'],
    ['digest', 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
  ])('rejects %s (%j)', (_label, tag) => {
    expect(isValidTag(tag)).toBe(false);
  });
});
