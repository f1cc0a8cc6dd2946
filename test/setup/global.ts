// Vitest global setup: names this run (test databases carry the name), compiles the CLI once for the tests
// that run it as a process, and drops what the run left behind, stopping Swift if the run started it.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dropRunDatabases } from '../helpers/postgres.js';
import { swiftAnswers, swiftStartedMarker } from '../helpers/swift.js';

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
  const swiftMarker = swiftStartedMarker(process.env.BERTH_TEST_RUN);
  rmSync(swiftMarker, { force: true });
  return async () => {
    try {
      await dropRunDatabases();
    } catch {
      // No PostgreSQL here: nothing was created either.
    }
    await stopSwiftIfStarted(swiftMarker);
  };
}

/**
 * The S3 tests start Swift (and its memcached) on first use when it does not answer (test/helpers/swift.ts,
 * scripts/swift-s3.sh), and the first to do so in this run leaves `marker`: then this run stops them again,
 * so that a suite leaves nothing running (port 8080 free). When Swift answered already — started by
 * `scripts/test-services.sh start`, which `.ci/run` and developers run first — it is reused deliberately
 * and left running, for that script's `stop`.
 */
async function stopSwiftIfStarted(marker: string): Promise<void> {
  if (!existsSync(marker)) return;
  rmSync(marker, { force: true });
  execFileSync('bash', [`${ROOT}scripts/swift-s3.sh`, 'stop'], { cwd: ROOT, stdio: 'inherit' });
  // `stop` signals the servers; wait (briefly) until the port is let go, so whatever runs next finds it free.
  for (let tries = 0; tries < 50 && (await swiftAnswers()); tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
