import { describe, expect, it } from 'vitest';
import {
  createDigester,
  type DigestAlgorithm,
  digestOf,
  isDigest,
  parseDigest,
  tryParseDigest,
} from '../../src/registry/digest.js';
import { RegistryError } from '../../src/registry/errors.js';

const HEX64 = '0123456789abcdef'.repeat(4);
const HEX128 = '0123456789abcdef'.repeat(8);
const SHA256_EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

describe('tryParseDigest', () => {
  it.each([
    ['sha256', HEX64],
    ['sha256', SHA256_EMPTY],
    ['sha256', '0'.repeat(64)],
    ['sha512', HEX128],
    ['sha512', 'f'.repeat(128)],
  ])('parses %s:%s', (algorithm, hex) => {
    const value = `${algorithm}:${hex}`;
    expect(tryParseDigest(value)).toEqual({ algorithm, hex, value });
    expect(isDigest(value)).toBe(true);
  });

  it.each([
    ['empty string', ''],
    ['missing colon', `sha256${HEX64}`],
    ['missing algorithm', `:${HEX64}`],
    ['missing hex', 'sha256:'],
    ['double colon', `sha256::${HEX64}`],
    ['sha256 with 63 hex', `sha256:${HEX64.slice(1)}`],
    ['sha256 with 65 hex', `sha256:${HEX64}0`],
    ['sha256 with 128 hex', `sha256:${HEX128}`],
    ['sha512 with 64 hex', `sha512:${HEX64}`],
    ['sha512 with 127 hex', `sha512:${HEX128.slice(1)}`],
    ['uppercase hex', `sha256:${HEX64.toUpperCase()}`],
    ['one uppercase hex digit', `sha256:A${HEX64.slice(1)}`],
    ['non-hex characters', `sha256:${'g'.repeat(64)}`],
    ['base64 characters', `sha256:${'-'.repeat(63)}=`],
    ['uppercase algorithm', `SHA256:${HEX64}`],
    ['unknown algorithm md5', `md5:${'0'.repeat(32)}`],
    ['unknown algorithm sha384', `sha384:${'0'.repeat(96)}`],
    ['unknown algorithm sha1', `sha1:${'0'.repeat(40)}`],
    ['algorithm with a suffix', `sha256+b64u:${HEX64}`],
    ['prototype key as algorithm', `constructor:${HEX64}`],
    ['leading whitespace', ` sha256:${HEX64}`],
    ['trailing whitespace', `sha256:${HEX64} `],
    ['trailing newline', `sha256:${HEX64}\n`],
    ['a tag', 'latest'],
  ])('rejects %s', (_label, value) => {
    expect(tryParseDigest(value)).toBeNull();
    expect(isDigest(value)).toBe(false);
  });
});

describe('parseDigest', () => {
  it('returns the parsed digest', () => {
    expect(parseDigest(`sha512:${HEX128}`)).toEqual({
      algorithm: 'sha512',
      hex: HEX128,
      value: `sha512:${HEX128}`,
    });
  });

  it.each([
    ['undefined', undefined, /required/, null],
    ['an empty string', '', /invalid digest/, ''],
    ['uppercase hex', `sha256:${HEX64.toUpperCase()}`, /invalid digest/, `sha256:${HEX64.toUpperCase()}`],
    ['an unknown algorithm', `sha1:${'0'.repeat(40)}`, /invalid digest/, `sha1:${'0'.repeat(40)}`],
    ['a missing colon', 'sha256', /invalid digest/, 'sha256'],
  ])('throws DIGEST_INVALID (400) for %s', (_label, input, message, detailDigest) => {
    let caught: unknown;
    try {
      parseDigest(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RegistryError);
    const error = caught as RegistryError;
    expect(error.code).toBe('DIGEST_INVALID');
    expect(error.status).toBe(400);
    expect(error.message).toMatch(message);
    expect(error.detail).toEqual({ digest: detailDigest });
  });
});

describe('digestOf', () => {
  const utf8 = (s: string) => new TextEncoder().encode(s);

  // FIPS 180-2 test vectors.
  it.each<[string, DigestAlgorithm | undefined, string]>([
    ['', undefined, `sha256:${SHA256_EMPTY}`],
    ['', 'sha256', `sha256:${SHA256_EMPTY}`],
    ['abc', 'sha256', 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
    [
      'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq',
      'sha256',
      'sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    ],
    [
      '',
      'sha512',
      'sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e',
    ],
    [
      'abc',
      'sha512',
      'sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    ],
    ['{}', 'sha256', 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a'],
  ])('digestOf(%j, %s)', (input, algorithm, expected) => {
    const actual = algorithm === undefined ? digestOf(utf8(input)) : digestOf(utf8(input), algorithm);
    expect(actual).toBe(expected);
    expect(isDigest(actual)).toBe(true);
  });

  it('hashes only the viewed bytes of a subarray', () => {
    const backing = utf8('xxabcxx');
    expect(digestOf(backing.subarray(2, 5))).toBe(digestOf(utf8('abc')));
  });

  it.each<DigestAlgorithm>(['sha256', 'sha512'])(
    'createDigester(%s) agrees with digestOf over chunks',
    (algo) => {
      const data = utf8('the quick brown fox jumps over the lazy dog');
      const hash = createDigester(algo);
      hash.update(data.subarray(0, 7));
      hash.update(data.subarray(7));
      expect(`${algo}:${hash.digest('hex')}`).toBe(digestOf(data, algo));
    },
  );
});
