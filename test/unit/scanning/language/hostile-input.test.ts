// Every language analyzer, on arbitrary bytes: findings or problems, never a thrown error that would stop the
// layer walk. fast-check generates the inputs (random bytes, and near-misses of each format).
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FileAnalyzer } from '../../../../src/scanning/inventory/analyzer.js';
import { languageAnalyzers } from '../../../../src/scanning/inventory/analyzers/language/index.js';
import { fileEntry } from './analyze-file.js';

/** A path each analyzer matches, and a prefix that gets random bytes past its first checks. */
const TARGETS: Record<string, { path: string; mode: number; prefixes: string[] }> = {
  'npm-package-lock': {
    path: '/app/package-lock.json',
    mode: 0o644,
    prefixes: ['{"lockfileVersion":3,"packages":', '{"dependencies":{"a":'],
  },
  'npm-installed-package': {
    path: '/app/node_modules/a/package.json',
    mode: 0o644,
    prefixes: ['{"name":"a","version":'],
  },
  'python-metadata': {
    path: '/usr/lib/python3/a-1.dist-info/METADATA',
    mode: 0o644,
    prefixes: ['Name: a\nVersion'],
  },
  'go-binary': {
    path: '/usr/bin/a',
    mode: 0o755,
    prefixes: ['\x7fELF', `\x7fELF${'\0'.repeat(12)}\xff Go buildinf:\x08\x02${'\0'.repeat(16)}`],
  },
  'java-archive': { path: '/app/a.jar', mode: 0o644, prefixes: ['PK\x03\x04', 'PK\x05\x06'] },
  'cargo-lock': { path: '/src/Cargo.lock', mode: 0o644, prefixes: ['[[package]]\nname = "a"\n'] },
};

async function analyzeBytes(analyzer: FileAnalyzer, bytes: Buffer) {
  const target = TARGETS[analyzer.name];
  if (!target) throw new Error(`no target for ${analyzer.name}`);
  // Go binaries are matched from a size up; the stream may be shorter than the entry says.
  const entry = fileEntry(target.path, Math.max(bytes.length, 1 << 20), target.mode);
  const how = analyzer.match(entry);
  if (how === false) throw new Error(`${analyzer.name} does not match ${target.path}`);
  return how.read === 'stream'
    ? analyzer.analyze(entry, { stream: Readable.from([bytes]) })
    : analyzer.analyze(entry, { content: bytes });
}

describe('language analyzers on hostile input', () => {
  it('has a target for every registered analyzer', () => {
    expect(languageAnalyzers.map((analyzer) => analyzer.name).sort()).toEqual(Object.keys(TARGETS).sort());
  });

  it.each(languageAnalyzers.map((analyzer) => [analyzer.name, analyzer] as const))(
    '%s never throws, and names the file in every problem',
    async (name, analyzer) => {
      const prefixes = TARGETS[name]?.prefixes ?? [];
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('', ...prefixes),
          fc.oneof(
            fc.uint8Array({ maxLength: 4096 }),
            fc.string({ maxLength: 512 }).map((s) => Buffer.from(s)),
          ),
          async (prefix, tail) => {
            const findings = await analyzeBytes(
              analyzer,
              Buffer.concat([Buffer.from(prefix, 'latin1'), tail]),
            );
            for (const problem of findings.problems ?? [])
              expect(problem.startsWith(TARGETS[name]?.path ?? '?')).toBe(true);
            for (const pkg of findings.packages ?? []) expect(pkg.version).not.toBe('');
          },
        ),
        { numRuns: 300 },
      );
    },
  );
});
