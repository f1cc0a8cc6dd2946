import type { Command } from 'commander';
import { BundleError, exportBundle, importBundle, parseExportReference } from '../bundles/index.js';
import { RegistryClient } from '../replication/index.js';
import { DEFAULT_SERVER } from './admin-kit.js';

interface ConnectionFlags {
  server?: string;
  user?: string;
  password?: string;
}

/** A registry client of the Berth named by the global --server/--user/--password flags (or BERTH_* variables). */
function registryClient(command: Command, access: 'pull' | 'push'): RegistryClient {
  let root: Command = command;
  while (root.parent) root = root.parent;
  const flags = root.opts<ConnectionFlags>();
  return new RegistryClient({
    url: flags.server ?? DEFAULT_SERVER,
    access,
    userAgent: 'berth-bundle',
    ...(flags.user && { credentials: { username: flags.user, password: flags.password ?? '' } }),
  });
}

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** `berth bundle export|import`: air-gap bundles, made from and loaded into a running Berth over /v2. */
export function bundleCommands(program: Command): void {
  const bundle = program
    .command('bundle')
    .description(
      'air-gap bundles: artifacts with their referrers in one OCI-layout tar (uses --server, --user)',
    );
  bundle
    .command('export')
    .description(
      'write REPO:TAG, REPO@DIGEST or REPO (all tags), with child manifests, blobs and referrers, into one OCI-layout tar',
    )
    .requiredOption('--out <file>', 'the tar to write')
    .argument('<refs...>', 'what to export')
    .action(async (refs: string[], flags: { out: string }, command: Command) => {
      const client = registryClient(command, 'pull');
      let summary: Awaited<ReturnType<typeof exportBundle>>;
      try {
        summary = await exportBundle(client, refs.map(parseExportReference), flags.out, progress);
      } catch (error) {
        process.stderr.write(`berth: export failed, nothing written: ${(error as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(
        `wrote ${flags.out}: ${summary.tags} tags, ${summary.manifests} manifests, ${summary.blobs} blobs (${summary.bytes} bytes) in ${(summary.durationMs / 1000).toFixed(1)} s\n`,
      );
    });
  bundle
    .command('import')
    .description(
      'verify every entry of a bundle while uploading its blobs, then put its manifests and tags (none if anything is wrong); run again to resume',
    )
    .argument('<file>', 'a bundle written by `berth bundle export`')
    .action(async (file: string, _flags: object, command: Command) => {
      const client = registryClient(command, 'push');
      try {
        const summary = await importBundle(file, client, progress);
        const { blobs } = summary;
        process.stdout.write(
          `imported ${file}: ${summary.tags} tags, ${summary.manifests} manifests, ${blobs.uploaded} blobs uploaded (${blobs.bytes} bytes), ${blobs.present} already there, in ${(summary.durationMs / 1000).toFixed(1)} s\n`,
        );
      } catch (error) {
        process.stderr.write(
          error instanceof BundleError
            ? `berth: bundle refused, nothing imported is visible: ${error.message}\n`
            : `berth: import failed (run it again to resume): ${(error as Error).message}\n`,
        );
        process.exitCode = 1;
      }
    });
}
