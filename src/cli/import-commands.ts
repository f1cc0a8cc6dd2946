import type { Command } from 'commander';
import { parseS3Url } from '../backup/index.js';
import type { Config } from '../config/index.js';
import {
  type DistributionSource,
  type ImportSummary,
  importDistribution,
  S3DistributionTree,
} from '../migration/index.js';
import { S3BlobStore } from '../storage/index.js';
import { reported, s3Connection } from './backup-commands.js';
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
    `blobs: ${blobs.linked} hard-linked, ${blobs.serverCopied} copied server-side, ${blobs.copied} copied (${blobs.copiedBytes} bytes), ${blobs.present} already in Berth`,
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
          'a Distribution storage root (its rootdirectory, holding docker/registry/v2): a directory, or s3://bucket/rootdirectory',
        )
        .description(
          "register the repositories, blobs, manifests and tags of a CNCF Distribution storage tree, as if pushed; blobs are hard-linked when on the same filesystem as Berth storage, copied server-side when in Berth's bucket, else copied and verified",
        ),
    )
    .option('--repository <name...>', 'only these repositories')
    .option('--copy', 'stream-copy blobs even when they could be hard-linked or copied server-side')
    .option('--verify', 're-hash hard-linked and server-side copied blobs too (streamed ones always are)')
    .option('--json', 'print the summary as JSON')
    .action(
      reported(async (root: string, flags: ImportFlags & object) => {
        const config = kit.configFrom(flags);
        const source = openSource(root, config);
        const { registry, close } = await openOfflineRegistry(config);
        let summary: ImportSummary;
        try {
          summary = await importDistribution(source, registry, {
            ...(flags.repository && { repositories: flags.repository }),
            copy: flags.copy === true,
            verifyLinked: flags.verify === true,
            progress: (line) => process.stderr.write(`${line}\n`),
          });
        } finally {
          await close();
          if (typeof source !== 'string') await (source as S3DistributionTree).close();
        }
        process.stdout.write(`${flags.json ? JSON.stringify(summary, null, 2) : describeImport(summary)}\n`);
        if (summary.problems.length > 0) process.exitCode = 1;
      }),
    );
}

/** A directory, or `s3://bucket/rootdirectory` read with backup.s3's (or storage.s3's) connection. */
function openSource(root: string, config: Config): string | DistributionSource {
  const url = parseS3Url(root);
  if (!url) return root;
  const reader = new S3BlobStore({ ...s3Connection(config), bucket: url.bucket, prefix: url.prefix });
  return new S3DistributionTree(reader, root);
}
