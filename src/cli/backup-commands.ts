import type { Command } from 'commander';
import {
  type BackupLocation,
  backup,
  openBackupLocation,
  restore,
  type S3Connection,
  verifyBackup,
} from '../backup/index.js';
import type { Config } from '../config/index.js';
import { openBlobStore } from '../server/index.js';
import type { LocalCommandKit } from './import-commands.js';

/**
 * The object store of s3:// locations: backup.s3 when its endpoint is set, else storage.s3's (endpoint,
 * region, path style, keys); keys left empty come from the AWS chain (AWS_ACCESS_KEY_ID, …).
 */
export function s3Connection(config: Config): S3Connection {
  const own = config.backup.s3.endpoint !== '';
  const s3 = own ? config.backup.s3 : config.storage.s3;
  return {
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    ...(s3.endpoint && { endpoint: s3.endpoint }),
    ...(s3.accessKeyId && { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }),
    ...(!own && {
      connectTimeoutMs: config.storage.s3.connectTimeoutSeconds * 1000,
      requestTimeoutMs: config.storage.s3.requestTimeoutSeconds * 1000,
    }),
  };
}

async function withLocation<T>(
  where: string,
  config: Config,
  create: boolean,
  work: (location: BackupLocation) => Promise<T>,
): Promise<T> {
  const location = await openBackupLocation(where, s3Connection(config), { create });
  try {
    return await work(location);
  } finally {
    await location.close();
  }
}

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
        .argument(
          '<dest>',
          'backup directory or s3://bucket/prefix (created; later runs add snapshots and copy only new blobs)',
        )
        .description(
          'online, consistent backup of the metadata database (SQLite or PostgreSQL) and the blobs it links, into a directory or an S3 bucket',
        ),
    )
    .option('--json', 'print the summary as JSON')
    .action(
      reported(async (dest: string, flags: { json?: boolean }) => {
        const config = kit.configFrom(flags);
        const store = await openBlobStore(config);
        try {
          const summary = await withLocation(dest, config, true, (location) =>
            backup(config.metadata.url, store, location, progress),
          );
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
    .argument('<src>', 'backup directory or s3://bucket/prefix')
    .option('--snapshot <id>', 'this snapshot instead of the latest')
    .description("check a snapshot: the metadata copy's integrity and every blob's bytes against its digest")
    .action(
      reported(async (src: string, flags: { snapshot?: string }) => {
        // -c/-d given to `backup` (for s3:// credentials).
        const config = kit.configFrom(command.opts());
        const summary = await withLocation(src, config, false, (location) =>
          verifyBackup(location, flags.snapshot, progress),
        );
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
        .argument('<src>', 'backup directory or s3://bucket/prefix')
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
          const summary = await withLocation(src, config, false, (location) =>
            restore(location, flags.snapshot, config.metadata.url, store, progress),
          );
          process.stdout.write(
            `restored snapshot ${summary.snapshot.id}: ${summary.copied} blobs copied, ${summary.present} already there, in ${seconds(summary.durationMs)}\n`,
          );
        } finally {
          await store.close?.();
        }
      }),
    );
}
