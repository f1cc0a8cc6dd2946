// Rust: Cargo.lock, read with a parser for just its shape; checked against a real TOML parser (Python's tomllib)
// on the lockfile of a real project (sigstore/protobuf-specs v0.5.0, gen/pb-rust).
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  cargoLock,
  readCargoLock,
} from '../../../../src/scanning/inventory/analyzers/language/cargo-lock.js';
import { findExecutable } from '../../../fixtures/image.js';
import { analyzeContent, fileEntry } from './analyze-file.js';

const REAL_LOCK = fileURLToPath(
  new URL('./fixtures/sigstore-protobuf-specs-v0.5.0.Cargo.lock', import.meta.url),
);

function hasTomllib(): boolean {
  if (findExecutable('python3')) return true;
  if (process.env.CI === 'true') throw new Error('the Cargo.lock test needs python3 (its tomllib) in CI');
  console.warn('\n!!! SKIPPING the Cargo.lock comparison with tomllib: python3 is not installed !!!\n');
  return false;
}

describe('a real Cargo.lock (version 4)', () => {
  it.skipIf(!hasTomllib())('reads every [[package]] as tomllib does', async () => {
    const script = `
import json, sys, tomllib
with open(sys.argv[1], 'rb') as f:
    lock = tomllib.load(f)
print(json.dumps([{k: p[k] for k in ('name', 'version', 'source') if k in p} for p in lock['package']]))`;
    const expected = JSON.parse(execFileSync('python3', ['-c', script, REAL_LOCK], { encoding: 'utf8' }));
    const { crates, notUnderstood } = readCargoLock(await readFile(REAL_LOCK, 'utf8'));
    expect(notUnderstood).toBe(0);
    expect(crates).toEqual(expected);
    expect(crates).toHaveLength(69);
  });

  it('reports the crates from a registry, not the workspace members', async () => {
    const findings = await analyzeContent(cargoLock, '/src/Cargo.lock', await readFile(REAL_LOCK));
    expect(findings.problems).toBeUndefined();
    expect(findings.packages).toHaveLength(66);
    expect(findings.packages).toContainEqual({
      type: 'cargo',
      name: 'serde',
      version: '1.0.219',
      location: '/src/Cargo.lock',
    });
    expect(findings.packages?.some((pkg) => pkg.name.startsWith('sigstore'))).toBe(false);
  });
});

describe('Cargo.lock shapes', () => {
  it('reads lockfile format 1 ([metadata] checksums), git and sparse-registry sources, comments', async () => {
    const lock = `[[package]]
name = "app"
version = "0.1.0"
dependencies = [
 "regex 1.11.1 (git+https://github.com/rust-lang/regex.git)",
 "serde 1.0.100 (registry+https://github.com/rust-lang/crates.io-index)",
]

[[package]]
name = "regex"
version = "1.11.1"
source = "git+https://github.com/rust-lang/regex.git#1a069b9232c607b34c4937122361aa075ef573fa"

[[package]]
name = "serde"   # a comment
version = "1.0.100"
source = "registry+https://github.com/rust-lang/crates.io-index"
dependencies = []

[[package]]
name = "internal"
version = "2.0.0"
source = "sparse+https://cargo.example.com/index/"

[metadata]
"checksum serde 1.0.100 (registry+https://github.com/rust-lang/crates.io-index)" = "f4473e8506b213730ff2061073b48fa51dcc66349219e2e7c5608f0296a1d95a"
`;
    const findings = await analyzeContent(cargoLock, '/Cargo.lock', lock);
    expect(findings).toEqual({
      packages: [
        { type: 'cargo', name: 'regex', version: '1.11.1', location: '/Cargo.lock' },
        { type: 'cargo', name: 'serde', version: '1.0.100', location: '/Cargo.lock' },
        { type: 'cargo', name: 'internal', version: '2.0.0', location: '/Cargo.lock' },
      ],
    });
  });

  it.each([
    ['a table without a version', '[[package]]\nname = "a"\nsource = "registry+x"\n', 1],
    [
      'lines that are not TOML key = value',
      '[[package]]\nname = "a"\nversion = "1"\nsource = "registry+x"\n<html>\n',
      1,
    ],
    ['an unterminated string', '[[package]]\nname = "a\nversion = "1"\nsource = "registry+x"\n', 2],
    ['binary garbage', '\u0000\u0001\u0002\n\u00ff\u00fe', 2],
  ])('reports %s as a problem naming the file, and keeps the rest', async (_, text, count) => {
    const findings = await analyzeContent(cargoLock, '/app/Cargo.lock', text);
    expect(findings.problems).toEqual([
      `/app/Cargo.lock: ${count} lines or [[package]] tables not understood were skipped`,
    ]);
  });

  it('matches Cargo.lock only', () => {
    expect(cargoLock.match(fileEntry('/usr/src/app/Cargo.lock', 100))).not.toBe(false);
    expect(cargoLock.match(fileEntry('/usr/src/app/Cargo.toml', 100))).toBe(false);
    expect(cargoLock.match(fileEntry('/usr/src/app/NotCargo.lock', 100))).toBe(false);
  });

  it('reads TOML escapes in strings', () => {
    const { crates } = readCargoLock('[[package]]\nname = "a\\u00e9\\U0001F600"\nversion = "1\\t2"\n');
    expect(crates).toEqual([{ name: 'aé😀', version: '1\t2' }]);
  });
});
