// Parsers of client-controlled text on inputs that made their former regexes backtrack quadratically (found by
// the regex audit, docs/security.md): each must give the right answer. No timing assertion: the former code took
// seconds to hours on these (a 64 KiB Cargo.lock line: 4 s; the 1 MiB one below: ~20 min), linear code finishes.
import { PackageURL } from 'packageurl-js';
import { describe, expect, it } from 'vitest';
import { AuthError, addressKey, IpAllowlist, parseAuthorization } from '../../src/auth/index.js';
import { parseChallenge } from '../../src/replication/client/challenge.js';
import { readCargoLock } from '../../src/scanning/inventory/analyzers/language/cargo-lock.js';
import { writeSpdx } from '../../src/scanning/sbom/index.js';
import type { Package } from '../../src/scanning/types.js';
import { compareApk } from '../../src/scanning/versions/apk.js';
import { IMAGE_DIGEST, inventoryOf } from './scanning/sbom/real-inventory.js';

const N = 50_000;

describe('parsers of hostile input', () => {
  it('Authorization: a run of spaces before a line terminator is refused, ordinary values parsed as before', () => {
    for (const bad of [`Basic ${' '.repeat(N)}\u2028x`, `Bearer ${' '.repeat(N)}\rx`, `Basic a\nb`]) {
      expect(() => parseAuthorization(bad)).toThrow(AuthError);
    }
    const basic = `Basic ${Buffer.from('alice:pa ss').toString('base64')}`;
    expect(parseAuthorization(basic)).toMatchObject({
      scheme: 'basic',
      username: 'alice',
      password: 'pa ss',
    });
    expect(parseAuthorization(`Bearer   ${'a'.repeat(N)}`)).toEqual({
      scheme: 'bearer',
      token: 'a'.repeat(N),
    });
    expect(parseAuthorization('Negotiate')).toBeNull();
  });

  it('addresses: a zone index is cut at the first %, however many follow', () => {
    const hostile = `fe80::1${'%'.repeat(N)}\u2028%`;
    expect(addressKey(hostile)).toBe('fe80:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    const list = IpAllowlist.parse(['fe80::/10']);
    expect(list.allows(hostile)).toBe(true);
    expect(list.allows(`10.0.0.1${'%'.repeat(N)}\n%`)).toBe(false);
  });

  it('WWW-Authenticate of an upstream: blanks around empty values, the same parameters as before', () => {
    expect(parseChallenge(`Bearer realm=${'\t'.repeat(N)}x"`)).toEqual({ scheme: 'bearer', params: {} });
    expect(parseChallenge(`Bearer a=${'\t'.repeat(N)},b="c"`)).toEqual({
      scheme: 'bearer',
      params: { a: '', b: 'c' },
    });
    expect(parseChallenge('Bearer realm="https://a/token",service=reg , scope="repo:x:pull,push"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://a/token', service: 'reg', scope: 'repo:x:pull,push' },
    });
  });

  it('Cargo.lock: a 1 MiB line of blanks before a lone CR is read, the real entries around it too', () => {
    const text = [
      '[[package]]',
      'name = "serde"',
      'version = "1.0.100"',
      `checksum = ${'\t'.repeat(1 << 20)}\r"`,
      '[[package]]',
      `name${' '.repeat(N)}=${'\t'.repeat(N)}\u2028"`,
      'name = "libc"',
      'version = "0.2.150"',
    ].join('\n');
    const { crates, notUnderstood } = readCargoLock(text);
    expect(crates.map((c) => c.name)).toEqual(['serde', 'libc']);
    expect(notUnderstood).toBe(2);
    expect(crates[1]?.version).toBe('0.2.150');
  });

  it('SPDX identifiers: a name of dashes between two letters becomes one short id part', () => {
    const name = `a${'-'.repeat(N)}b`;
    const pkg: Package = {
      type: 'npm',
      name,
      version: '1.0.0',
      purl: new PackageURL('npm', undefined, 'x', '1.0.0', undefined, undefined).toString(),
      location: '/app/node_modules/x/package.json',
    };
    const { document } = writeSpdx(inventoryOf([pkg]), {
      repository: 'team/app',
      digest: IMAGE_DIGEST,
      tool: { name: 'berth', version: '0.1.0' },
      created: new Date('2025-01-01T00:00:00Z'),
    });
    const id = document.packages.find((p) => p.name === name)?.SPDXID ?? '';
    expect(id).toMatch(/^SPDXRef-Package-npm-a-{63}-[0-9a-f]+$/);
  });

  it('apk versions: long runs of zeros compare as decimal fractions', () => {
    expect(compareApk(`1.0${'0'.repeat(N)}1`, '1.01')).toBe(-1);
    expect(compareApk(`1.0${'0'.repeat(N)}`, '1.0')).toBe(0);
    expect(compareApk('1.01', '1.1')).toBe(-1);
  });
});
