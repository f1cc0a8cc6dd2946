// Go executables: the build information read from real binaries (the registry clients the e2e tests use, and
// small programs built here) must say what `go version -m` says, read as a stream that stops once it is found.
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FoundPackage } from '../../../../src/scanning/inventory/analyzer.js';
import { findBuildInfo, goBinary } from '../../../../src/scanning/inventory/analyzers/language/go-binary.js';
import { stdlibVersion } from '../../../../src/scanning/inventory/analyzers/language/go-build-info.js';
import { findExecutable } from '../../../fixtures/image.js';
import { requireGoTools } from '../../../helpers/go-tools.js';
import { analyzeHostFile, fileEntry } from './analyze-file.js';

const go = findExecutable('go', ['/usr/local/go/bin']);
if (!go) {
  if (process.env.CI === 'true') throw new Error('the Go build info tests need the go toolchain (go.dev/dl)');
  console.warn(
    '\n!!! SKIPPING the Go build info tests that need the go toolchain: go is not installed !!!\n',
  );
}
const clients = requireGoTools(
  ['crane', 'oras', 'helm', 'cosign'],
  'Go build info tests on the registry clients',
);
// syft is not among the pinned clients; read it too when this machine has it.
const syft = findExecutable('syft', [join(homedir(), 'go', 'bin'), '/root/go/bin']);
const binaries = clients ? [...Object.values(clients), ...(syft ? [syft] : [])] : [];

/** What `go version -m` reports, as the packages the analyzer should find (its rules spelt out once more). */
function expectedPackages(binary: string, location: string): FoundPackage[] {
  const out = execFileSync(go ?? 'go', ['version', '-m', binary], { encoding: 'utf8', maxBuffer: 16 << 20 });
  const [first = '', ...lines] = out.split('\n');
  const toolchain = first.slice(first.indexOf(': ') + 2).trim();
  const packages: FoundPackage[] = [];
  const stdlib = stdlibVersion(toolchain);
  if (stdlib) packages.push({ type: 'golang', name: 'stdlib', version: stdlib, location });
  const modules: Array<{ path: string; version: string }> = [];
  for (const line of lines) {
    const [, kind, path = '', version = ''] = line.split('\t');
    if (kind === 'mod' || kind === 'dep') modules.push({ path, version });
    if (kind === '=>') modules[modules.length - 1] = { path, version };
  }
  for (const { path, version } of modules) {
    if (version !== '(devel)' && version !== '')
      packages.push({ type: 'golang', name: path, version, location });
  }
  return packages;
}

describe.skipIf(!go || binaries.length === 0)('Go build info of real binaries', () => {
  it.each(binaries)('reads %s as go version -m does', async (binary) => {
    const findings = await analyzeHostFile(goBinary, '/usr/local/bin/tool', binary);
    const expected = expectedPackages(binary, '/usr/local/bin/tool');
    expect(findings.problems).toBeUndefined();
    expect(findings.packages).toEqual(expected);
    expect(expected.length).toBeGreaterThan(5);
    expect(expected[0]).toMatchObject({ name: 'stdlib', version: expect.stringMatching(/^1\.\d+\.\d+/) });
  });

  it('stops reading once the build info is found and leaves the stream destroyed', async () => {
    const binary = clients?.helm ?? '';
    const { size } = await stat(binary);
    let read = 0;
    const stream = createReadStream(binary);
    stream.on('data', (chunk) => {
      read += chunk.length;
    });
    const info = await findBuildInfo(stream);
    stream.destroy();
    expect(info).toMatchObject({ goVersion: expect.stringMatching(/^go1\./) });
    expect(read).toBeLessThan(size);
    expect(stream.destroyed).toBe(true);
  });

  it('finds the magic and the strings split across chunk boundaries at any offset', async () => {
    const binary = clients?.crane ?? '';
    const whole = await findBuildInfo(createReadStream(binary));
    if (typeof whole === 'string') throw new Error(`no build info in ${binary}`);
    const offset = await buildInfoOffset(binary);
    for (const cut of [1, 7, 14, 15, 31, 32, 33, 40, 200]) {
      const cuts = [offset + cut, offset + cut + 3, offset + cut + 1000];
      expect(await findBuildInfo(chunkedAt(binary, cuts))).toEqual(whole);
    }
  });
});

/** The file offset of the real build-info header: the `go` version string follows it (found by brute force). */
async function buildInfoOffset(binary: string): Promise<number> {
  const magic = Buffer.from('\xff Go buildinf:', 'latin1');
  const file = await open(binary);
  try {
    const { size } = await file.stat();
    const bytes = Buffer.alloc(size);
    await file.read(bytes, 0, size, 0);
    for (let at = bytes.indexOf(magic); at >= 0; at = bytes.indexOf(magic, at + 1)) {
      if (at % 16 === 0 && bytes.subarray(at + 33, at + 35).toString() === 'go') return at;
    }
  } finally {
    await file.close();
  }
  throw new Error(`no build info header found in ${binary}`);
}

/** The file as a stream whose chunks end exactly at `cuts` (and every 64 KiB otherwise). */
function chunkedAt(path: string, cuts: number[]): Readable {
  async function* chunks() {
    let position = 0;
    for (const cut of [...cuts, Number.POSITIVE_INFINITY]) {
      const end = cut - 1;
      if (end < position) continue;
      for await (const chunk of createReadStream(path, {
        start: position,
        ...(Number.isFinite(end) ? { end } : {}),
      })) {
        yield chunk as Buffer;
      }
      position = cut;
    }
  }
  return Readable.from(chunks());
}

/** A small program with a vendored dependency replaced by another module and one replaced by a directory. */
const PROGRAM = {
  'go.mod': `module example.com/app

go 1.22

require (
\texample.com/dep v1.0.0
\texample.com/lib v1.0.0
)

replace example.com/lib => ./lib

replace example.com/dep v1.0.0 => example.com/fork v1.2.0
`,
  'main.go': `package main

import (
\t"fmt"

\t"example.com/dep"
\t"example.com/lib"
)

func main() { fmt.Println(lib.Hello(), dep.World()) }
`,
  'lib/go.mod': 'module example.com/lib\n\ngo 1.22\n',
  'lib/lib.go': 'package lib\n\nfunc Hello() string { return "hello" }\n',
  'vendor/example.com/lib/lib.go': 'package lib\n\nfunc Hello() string { return "hello" }\n',
  'vendor/example.com/dep/dep.go': 'package dep\n\nfunc World() string { return "world" }\n',
  'vendor/modules.txt': `# example.com/dep v1.0.0 => example.com/fork v1.2.0
## explicit; go 1.22
example.com/dep
# example.com/lib v1.0.0 => ./lib
## explicit; go 1.22
example.com/lib
# example.com/dep v1.0.0 => example.com/fork v1.2.0
# example.com/lib => ./lib
`,
};

describe.skipIf(!go)('Go build info of programs built here', () => {
  let dir = '';
  const built: Record<'amd64' | '386', string> = { amd64: '', '386': '' };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-go-build-'));
    for (const [name, text] of Object.entries(PROGRAM)) {
      await mkdir(join(dir, name, '..'), { recursive: true });
      await writeFile(join(dir, name), text);
    }
    for (const arch of ['amd64', '386'] as const) {
      built[arch] = join(dir, `app-${arch}`);
      // Offline and from the vendor directory; no version control, so the main module is `(devel)`.
      execFileSync(go ?? 'go', ['build', '-buildvcs=false', '-o', built[arch], '.'], {
        cwd: dir,
        env: { ...process.env, GOPROXY: 'off', GOFLAGS: '-mod=vendor', GOARCH: arch, CGO_ENABLED: '0' },
        stdio: 'pipe',
      });
    }
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.each(['amd64', '386'] as const)(
    'reports replacements, not a (devel) main module or a local directory (%s)',
    async (arch) => {
      const findings = await analyzeHostFile(goBinary, '/app/server', built[arch]);
      const goVersion = execFileSync(go ?? 'go', ['env', 'GOVERSION'], { encoding: 'utf8' }).trim();
      expect(findings.packages).toEqual([
        { type: 'golang', name: 'stdlib', version: stdlibVersion(goVersion), location: '/app/server' },
        { type: 'golang', name: 'example.com/fork', version: 'v1.2.0', location: '/app/server' },
      ]);
      expect(findings.packages).toEqual(expectedPackages(built[arch], '/app/server'));
    },
  );
});

describe('files that are not Go binaries', () => {
  it('matches executables of some size only', () => {
    expect(goBinary.match(fileEntry('/usr/bin/app', 4 << 20, 0o755))).toEqual({ read: 'stream' });
    expect(goBinary.match(fileEntry('/usr/lib/app.so', 4 << 20, 0o644))).toBe(false);
    expect(goBinary.match(fileEntry('/usr/bin/script', 2000, 0o755))).toBe(false);
  });

  it.each([
    ['a shell script', Buffer.from(`#!/bin/sh\n${'echo hi\n'.repeat(100_000)}`)],
    [
      'an ELF file without build info',
      Buffer.concat([Buffer.from('\x7fELF', 'latin1'), Buffer.alloc(1 << 20)]),
    ],
    [
      'the magic as a string constant, not a header',
      Buffer.concat([
        Buffer.from('\x7fELF', 'latin1'),
        Buffer.alloc(12),
        Buffer.from('\xff Go buildinf:xyz', 'latin1'),
        Buffer.alloc(1 << 20),
      ]),
    ],
  ])('finds no packages in %s', async (_, bytes) => {
    const entry = fileEntry('/usr/bin/x', bytes.length, 0o755);
    expect(await goBinary.analyze(entry, { stream: Readable.from([bytes]) })).toEqual({});
  });

  it('reports a binary with the build info layout of Go before 1.18', async () => {
    const header = Buffer.alloc(32);
    header.write('\xff Go buildinf:', 0, 'latin1');
    header[14] = 8; // pointer size, flags 0: pointers to the strings instead of the strings
    const bytes = Buffer.concat([
      Buffer.from('\x7fELF', 'latin1'),
      Buffer.alloc(12),
      header,
      Buffer.alloc(1 << 20),
    ]);
    const findings = await goBinary.analyze(fileEntry('/bin/old', bytes.length, 0o755), {
      stream: Readable.from([bytes]),
    });
    expect(findings.problems).toEqual([
      '/bin/old: Go build information in the format of Go before 1.18, which is not read',
    ]);
  });

  it('reports a stream that fails, and does not throw', async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error('layer truncated'));
      },
    });
    const findings = await goBinary.analyze(fileEntry('/bin/x', 1 << 20, 0o755), { stream: failing });
    expect(findings.problems).toEqual(['/bin/x: could not be read (layer truncated)']);
  });

  it.each([
    ['go1.26.0', '1.26.0'],
    ['go1.21', '1.21.0'],
    ['go1.22rc1', '1.22.0-rc.1'],
    ['go1.20beta2', '1.20.0-beta.2'],
    ['go1.21.5 X:boringcrypto', '1.21.5'],
    ['devel go1.23-abcdef Tue', undefined],
  ])('the standard library of %s is version %s', (toolchain, version) => {
    expect(stdlibVersion(toolchain)).toBe(version);
  });
});
