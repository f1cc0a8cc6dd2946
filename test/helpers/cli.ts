/**
 * The arguments to `node` that run the real `berth` CLI: the JavaScript this test run's global setup compiled
 * (test/setup/global.ts), or, without it, the TypeScript sources through tsx. Compiled, a CLI call starts in
 * ~0.3 s instead of ~3 s, and the suite makes hundreds of them.
 */
export function cliArgs(...args: string[]): string[] {
  const built = process.env.BERTH_TEST_CLI_JS;
  return built ? [built, ...args] : ['--import', 'tsx', 'src/cli/main.ts', ...args];
}
