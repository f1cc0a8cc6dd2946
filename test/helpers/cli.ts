import { spawn } from 'node:child_process';

const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * The arguments to `node` that run the real `berth` CLI: the JavaScript this test run's global setup compiled
 * (test/setup/global.ts), or, without it, the TypeScript sources through tsx. Compiled, a CLI call starts in
 * ~0.3 s instead of ~3 s, and the suite makes hundreds of them.
 */
export function cliArgs(...args: string[]): string[] {
  const built = process.env.BERTH_TEST_CLI_JS;
  return built ? [built, ...args] : ['--import', 'tsx', 'src/cli/main.ts', ...args];
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `berth` CLI as a process, with none of the test runner's BERTH_* variables: only `env`.
 * `input` is written to its stdin, which is then closed (an empty stdin when absent).
 */
export function runCli(
  args: string[],
  options: { env?: Record<string, string> | undefined; input?: string | undefined } = {},
): Promise<CliResult> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_')));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cliArgs(...args), {
      cwd: ROOT,
      env: { ...clean, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}
