import type { Command } from 'commander';
import type { Config } from '../config/index.js';
import { type ImportSummary, importDistribution } from '../migration/index.js';
import { reported } from './backup-commands.js';
import { openOfflineRegistry } from './offline-registry.js';

/** What the commands acting on a configuration borrow from main.ts: its flags and how it loads them. */
export interface LocalCommandKit {
  withConfigFlags(command: Command): Command;
  configFrom(flags: object): Config;
}

interface ImportFlags {
  repository?: string[];
  copy?: boolean;
  verify?: boolean;
  json?: boolean;
}

function describeImport(summary: ImportSummary): string {
  const { blobs } = summary;
  const lines = [
    `imported ${summary.repositories} repositories, ${summary.manifests} manifests, ${summary.tags} tags in ${(summary.durationMs / 1000).toFixed(1)} s`,
    `blobs: ${blobs.linked} hard-linked, ${blobs.copied} copied (${blobs.copiedBytes} bytes), ${blobs.present} already in Berth`,
  ];
  for (const p of summary.problems) lines.push(`problem: ${p.repository}: ${p.item}: ${p.reason}`);
  return lines.join('\n');
}

/** `berth import-distribution ROOT`: registers a CNCF Distribution storage tree in this Berth's storage and database. */
export function importCommands(program: Command, kit: LocalCommandKit): void {
  kit
    .withConfigFlags(
      program
        .command('import-distribution')
        .argument(
          '<root>',
          'a Distribution filesystem storage root (its rootdirectory, holding docker/registry/v2)',
        )
        .description(
          'register the repositories, blobs, manifests and tags of a CNCF Distribution storage tree, as if pushed; blobs are hard-linked when on the same filesystem as Berth storage, else copied and verified',
        ),
    )
    .option('--repository <name...>', 'only these repositories')
    .option('--copy', 'copy blobs even when they could be hard-linked')
    .option('--verify', 're-hash hard-linked blobs too (copied ones always are)')
    .option('--json', 'print the summary as JSON')
    .action(
      reported(async (root: string, flags: ImportFlags & object) => {
        const { registry, close } = await openOfflineRegistry(kit.configFrom(flags));
        let summary: ImportSummary;
        try {
          summary = await importDistribution(root, registry, {
            ...(flags.repository && { repositories: flags.repository }),
            copy: flags.copy === true,
            verifyLinked: flags.verify === true,
            progress: (line) => process.stderr.write(`${line}\n`),
          });
        } finally {
          await close();
        }
        process.stdout.write(`${flags.json ? JSON.stringify(summary, null, 2) : describeImport(summary)}\n`);
        if (summary.problems.length > 0) process.exitCode = 1;
      }),
    );
}
