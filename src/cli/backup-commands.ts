import type { Command } from 'commander';
import { backup, restore, verifyBackup } from '../backup/index.js';
import { openBlobStore } from '../server/index.js';
import type { LocalCommandKit } from './import-commands.js';

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Our failures (no snapshot, a non-empty target, a missing database) are one line and exit code 1. */
export function reported<A extends unknown[]>(action: (...args: A) => Promise<void>) {
  return async (...args: A): Promise<void> => {
    try {
      await action(...args);
    } catch (error) {
      process.stderr.write(`berth: ${(error as Error).message}\n`);
      process.exitCode = 1;
    }
  };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** `berth backup DEST`, `berth backup verify SRC`, `berth restore SRC`: on the configured storage and database. */
export function backupCommands(program: Command, kit: LocalCommandKit): void {
  const command = kit
    .withConfigFlags(
      program
        .command('backup')
        .argument('<dest>', 'backup directory (created; later runs add snapshots and copy only new blobs)')
        .description(
          'online, consistent backup of the metadata database and the blobs it links, into a directory',
        ),
    )
    .option('--json', 'print the summary as JSON')
    .action(
      reported(async (dest: string, flags: { json?: boolean }) => {
        const config = kit.configFrom(flags);
        const store = await openBlobStore(config);
        try {
          const summary = await backup(config.metadata.url, store, dest, progress);
          const { snapshot } = summary;
          process.stdout.write(
            flags.json
              ? `${JSON.stringify(summary, null, 2)}\n`
              : `snapshot ${snapshot.id}: ${snapshot.blobs} blobs (${snapshot.bytes} bytes); copied ${summary.copied} (${summary.copiedBytes} bytes), ${summary.present} already in the backup; ${seconds(snapshot.durationMs)}\n${summary.problems.map((p) => `problem: ${p}\n`).join('')}`,
          );
          if (summary.problems.length > 0) process.exitCode = 1;
        } finally {
          await store.close?.();
        }
      }),
    );
  command
    .command('verify')
    .argument('<src>', 'backup directory')
    .option('--snapshot <id>', 'this snapshot instead of the latest')
    .description("check a snapshot: the database copy's integrity and every blob's bytes against its digest")
    .action(
      reported(async (src: string, flags: { snapshot?: string }) => {
        const summary = await verifyBackup(src, flags.snapshot, progress);
        for (const problem of summary.problems) process.stdout.write(`problem: ${problem}\n`);
        process.stdout.write(
          `snapshot ${summary.snapshot.id}: ${summary.blobs} blobs, ${summary.problems.length === 0 ? 'all verified' : `${summary.problems.length} problems`}\n`,
        );
        if (summary.problems.length > 0) process.exitCode = 1;
      }),
    );
  kit
    .withConfigFlags(
      program
        .command('restore')
        .argument('<src>', 'backup directory')
        .description(
          'restore a snapshot into this (empty, stopped) instance: blobs verified, then the database',
        ),
    )
    .option('--snapshot <id>', 'this snapshot instead of the latest')
    .action(
      reported(async (src: string, flags: { snapshot?: string }) => {
        const config = kit.configFrom(flags);
        const store = await openBlobStore(config);
        try {
          const summary = await restore(src, flags.snapshot, config.metadata.url, store, progress);
          process.stdout.write(
            `restored snapshot ${summary.snapshot.id}: ${summary.copied} blobs copied, ${summary.present} already there, in ${seconds(summary.durationMs)}\n`,
          );
        } finally {
          await store.close?.();
        }
      }),
    );
}
