import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { cliArgs } from '../helpers/cli.js';

const exec = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;

/** Runs the real CLI (test/helpers/cli.ts) with a clean BERTH_* environment. */
async function berth(args: string[], env: Record<string, string> = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_')));
  try {
    const { stdout, stderr } = await exec(process.execPath, cliArgs(...args), {
      cwd: ROOT,
      env: { ...clean, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('berth CLI', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-cli-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('--help lists the commands', async () => {
    const { code, stdout } = await berth(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/serve/);
    expect(stdout).toMatch(/config/);
  });

  it('config print merges file < environment < flags and masks secrets', async () => {
    const file = join(dir, 'berth.yaml');
    await writeFile(
      file,
      'http:\n  port: 6000\n  host: 127.0.0.1\nmetadata:\n  url: postgres://berth:hunter2@db/berth\n',
    );
    const { code, stdout } = await berth(['config', 'print', '--config', file, '--data-dir', '/srv/berth'], {
      BERTH_HTTP_PORT: '7000',
      BERTH_LOG_LEVEL: 'warn',
    });
    expect(code).toBe(0);
    const printed = parse(stdout);
    expect(printed.http.port).toBe(7000);
    expect(printed.http.host).toBe('127.0.0.1');
    expect(printed.log.level).toBe('warn');
    expect(printed.dataDir).toBe('/srv/berth');
    expect(printed.storage.root).toBe('/srv/berth');
    expect(printed.metadata.url).toBe('postgres://berth:********@db/berth');
    expect(stdout).not.toContain('hunter2');
  });

  it('rejects a bad value with exit code 2, naming the key and its source', async () => {
    const { code, stderr } = await berth(['config', 'print'], { BERTH_HTTP_PORT: 'eighty' });
    expect(code).toBe(2);
    expect(stderr).toMatch(/http\.port/);
    expect(stderr).toMatch(/BERTH_HTTP_PORT/);
  });

  it('rejects an unknown key in the file', async () => {
    const file = join(dir, 'typo.yaml');
    await writeFile(file, 'htp:\n  port: 1\n');
    const { code, stderr } = await berth(['serve', '--config', file]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/htp/);
    expect(stderr).toContain(file);
  });
});
