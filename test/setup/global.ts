// Vitest global setup: names this run (test databases carry the name), compiles the CLI once for the tests
// that run it as a process, and drops what the run left behind.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dropRunDatabases } from '../helpers/postgres.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Inside the repository, so that the compiled files find node_modules; incremental across runs. */
const OUT = `${ROOT}.test-dist`;

export function setup(): () => Promise<void> {
  process.env.BERTH_TEST_RUN ??= randomBytes(4).toString('hex');
  // test/helpers/cli.ts runs this instead of the sources through tsx: ~10x faster to start, per process.
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(
    process.execPath,
    [
      tsc,
      '-p',
      'tsconfig.build.json',
      '--outDir',
      OUT,
      '--incremental',
      '--tsBuildInfoFile',
      `${OUT}/.tsbuildinfo`,
    ],
    { cwd: ROOT, stdio: 'inherit' },
  );
  process.env.BERTH_TEST_CLI_JS = `${OUT}/cli/main.js`;
  return async () => {
    try {
      await dropRunDatabases();
    } catch {
      // No PostgreSQL here: nothing was created either.
    }
  };
}
