import { createReadStream } from 'node:fs';
import { opendir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { ScanReportView, ScanSettingsView } from '../scanning/scanning.js';
import type { SeveritySummary } from '../scanning/severity.js';
import { type CommandKit, path } from './admin-kit.js';
import { type ApiClient, UsageError } from './api-client.js';
import { artifactPath } from './signature-commands.js';
import { formatTable, out } from './table-output.js';

/** How often `--wait` asks how a scan or rescan is doing. */
const POLL_MS = 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function onOff(flag: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'on' || value === 'true') return true;
  if (value === 'off' || value === 'false') return false;
  throw new UsageError(`${flag}: give on or off, not '${value}'`);
}

function counts(summary: SeveritySummary): string {
  return (
    `${summary.total} vulnerabilities: ${summary.critical} critical, ${summary.high} high, ` +
    `${summary.medium} medium, ${summary.low} low, ${summary.unknown} unknown (${summary.fixable} fixable)`
  );
}

/** What `berth artifact vulns` prints: the status, the counts per severity, then one row per finding. */
export function describeReport(view: ScanReportView): string {
  if (view.manifests) {
    const parts = [`index:    ${view.repository}@${view.digest}`];
    for (const child of view.manifests) parts.push('', describeReport(child));
    if (view.manifests.length === 0) parts.push('(no image of this index is in the repository)');
    return parts.join('\n');
  }
  const lines = [`image:    ${view.repository}@${view.digest}`, `scan:     ${view.status}`];
  if (view.status === 'not-applicable') lines[1] = 'scan:     not an image (nothing to scan)';
  if (view.error) lines.push(`error:    ${view.error}`);
  if (view.database) {
    const updated = view.database.updated ?? 'unknown';
    const notes = [view.database.stale ? 'STALE' : '', view.database.current ? '' : 'a newer one is imported']
      .filter(Boolean)
      .join(', ');
    lines.push(`database: version ${view.database.version}, data of ${updated}${notes ? ` (${notes})` : ''}`);
  }
  if (view.facts) {
    const os = view.facts.os ? `${view.facts.os.prettyName ?? view.facts.os.id}` : 'unknown OS';
    const user = view.facts.runsAsRoot ? 'runs as root' : `runs as ${view.facts.user}`;
    const ssh = view.facts.sshServer.installed
      ? `SSH server installed (${view.facts.sshServer.evidence})`
      : 'no SSH server';
    lines.push(`image:    ${os}, ${view.packages ?? 0} packages, ${user}, ${ssh}`);
  }
  if (view.complete === false)
    lines.push(`warning:  the inventory is incomplete: ${(view.problems ?? []).join('; ')}`);
  if (view.summary) lines.push(`found:    ${counts(view.summary)}`);
  lines.push(
    view.policy.decision === 'refuse' ? `pull:     REFUSED: ${view.policy.message}` : 'pull:     allowed',
  );
  const findings = view.vulnerabilities ?? [];
  if (findings.length > 0) {
    lines.push(
      '',
      formatTable(
        ['SEVERITY', 'ID', 'PACKAGE', 'VERSION', 'FIXED IN', 'SCORE'],
        findings.map((f) => [
          f.severity,
          f.id,
          f.package.name,
          f.package.version,
          f.fixedVersion ?? '-',
          f.score === undefined ? '-' : f.score.toFixed(1),
        ]),
      ).trimEnd(),
    );
  }
  return lines.join('\n');
}

function describeSettings(project: string, settings: ScanSettingsView): string {
  const on = (value: boolean) => (value ? 'on' : 'off');
  const lines = [
    `${project}: scan on push ${on(settings.scanOnPush)}`,
    `  refuse pulls of images with vulnerabilities of severity: ${settings.blockSeverity ?? 'off'} or above`,
    `  refuse images that run as root: ${on(settings.blockRoot)}`,
    `  refuse images with an SSH server: ${on(settings.blockSsh)}`,
    `  refuse images not scanned: ${on(settings.blockUnscanned)}`,
    `  scanner: ${settings.adapter ? `adapter ${settings.adapter.url}` : 'built-in'}`,
  ];
  for (const entry of settings.allowlist) {
    const until = entry.expiresAt ? ` until ${entry.expiresAt}` : '';
    lines.push(`  allowed: ${entry.id}${until}${entry.reason ? ` (${entry.reason})` : ''}`);
  }
  return lines.join('\n');
}

/** Every `*.json` under a directory, one record per line (NDJSON), as the database import takes them. */
async function* ndjsonOfDirectory(dir: string): AsyncGenerator<Uint8Array> {
  const folder = await opendir(dir);
  for await (const entry of folder) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) yield* ndjsonOfDirectory(full);
    else if (entry.isFile() && entry.name.endsWith('.json')) {
      const text = await readFile(full, 'utf8');
      // One line per record: re-serialised (the server checks every record anyway).
      let line: string;
      try {
        line = JSON.stringify(JSON.parse(text));
      } catch {
        line = text.replace(/\n/g, ' ');
      }
      yield Buffer.from(`${line}\n`);
    }
  }
}

/** `berth artifact vulns|scan|sbom`, `berth scanner …` and `berth project scanning …`. */
export function scanningCommands(
  program: Command,
  project: Command,
  artifact: Command,
  kit: CommandKit,
): void {
  const { connected, run } = kit;

  connected(
    artifact
      .command('vulns')
      .argument('<artifact>', '<project>/<repository>:<tag> or …@<digest>')
      .description(
        "an image's vulnerabilities by severity, its facts, and whether its project lets it be pulled",
      ),
  )
    .option('--json', 'print JSON')
    .option('--harbor', 'print the Harbor scanner-adapter report (JSON)')
    .action(
      run(async (client: ApiClient, text: string, flags: { json?: boolean; harbor?: boolean }) => {
        const url = artifactPath(text, 'vulnerabilities');
        if (flags.harbor) {
          out(JSON.stringify(await client.request('GET', url, { query: { format: 'harbor' } }), null, 2));
          return;
        }
        const view = await client.request<ScanReportView>('GET', url);
        out(flags.json ? JSON.stringify(view, null, 2) : describeReport(view));
      }),
    );

  connected(
    artifact
      .command('scan')
      .argument('<artifact>', '<project>/<repository>:<tag> or …@<digest>')
      .description('scan an image now (again, if it was scanned)'),
  )
    .option('--wait', 'wait for the scan to end and print its report')
    .action(
      run(async (client: ApiClient, text: string, flags: { wait?: boolean }) => {
        const base = artifactPath(text);
        let view = await client.request<ScanReportView>('POST', `${base}/scan`);
        const pending = (v: ScanReportView) =>
          [v, ...(v.manifests ?? [])].some((r) => r.status === 'queued' || r.status === 'running');
        while (flags.wait && pending(view)) {
          await sleep(POLL_MS);
          view = await client.request<ScanReportView>('GET', `${base}/vulnerabilities`);
        }
        out(flags.wait ? describeReport(view) : `queued: ${view.repository}@${view.digest}`);
      }),
    );

  connected(
    artifact
      .command('sbom')
      .argument('<artifact>', '<project>/<repository>:<tag> or …@<digest>')
      .description("an image's SBOM as its scan stored it (also an OCI referrer of the image)"),
  )
    .option('--format <format>', 'spdx or cyclonedx', 'spdx')
    .action(
      run(async (client: ApiClient, text: string, flags: { format: string }) => {
        if (flags.format !== 'spdx' && flags.format !== 'cyclonedx') {
          throw new UsageError(`--format: give spdx or cyclonedx, not '${flags.format}'`);
        }
        out(await client.text(artifactPath(text, 'sbom'), { format: flags.format }));
      }),
    );

  const scanner = program
    .command('scanner')
    .description('the vulnerability database and rescans')
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));
  const db = scanner.command('db').description('the offline vulnerability database (OSV records)');
  connected(
    db
      .command('import')
      .argument(
        '<path>',
        'a directory of OSV *.json records, a .zip of them (OSV all.zip), or an NDJSON file',
      )
      .description(
        'import OSV records (system administrators); every image is then re-matched in the background',
      ),
  )
    .option('--json', 'print JSON')
    .action(
      run(async (client: ApiClient, source: string, flags: { json?: boolean }) => {
        let info: Awaited<ReturnType<typeof stat>>;
        try {
          info = await stat(source);
        } catch (error) {
          throw new UsageError(`cannot read ${source}: ${(error as NodeJS.ErrnoException).code ?? error}`);
        }
        const [body, type] = info.isDirectory()
          ? [ndjsonOfDirectory(source), 'application/x-ndjson']
          : source.toLowerCase().endsWith('.zip')
            ? [createReadStream(source), 'application/zip']
            : [createReadStream(source), 'application/x-ndjson'];
        const result = await client.upload<{
          imported: number;
          rejected: number;
          problems: string[];
          database: { version?: number; updated?: string | null; records?: number };
          rescan: number | null;
        }>('PUT', '/scanner/database', body, type);
        if (flags.json) {
          out(JSON.stringify(result, null, 2));
          return;
        }
        const { database } = result;
        out(
          `imported ${result.imported} records (${result.rejected} rejected); database version ${database.version}, ` +
            `${database.records} records, data of ${database.updated ?? 'unknown date'}` +
            (result.rescan === null ? '' : `; rescan ${result.rescan} started`),
        );
        for (const problem of result.problems.slice(0, 20)) out(`  rejected: ${problem}`);
      }),
    );
  connected(db.command('info').description('the database: version, data date, records, whether stale'))
    .option('--json', 'print JSON')
    .action(
      run(async (client: ApiClient, flags: { json?: boolean }) => {
        const info = await client.request<{
          imported: boolean;
          version?: number;
          updated?: string | null;
          importedAt?: string;
          records?: number;
          stale?: boolean;
        }>('GET', '/scanner/database');
        if (flags.json) out(JSON.stringify(info, null, 2));
        else if (!info.imported) out('no vulnerability database imported yet (berth scanner db import PATH)');
        else
          out(
            `version ${info.version}: ${info.records} records, data of ${info.updated ?? 'unknown date'}, ` +
              `imported ${info.importedAt}${info.stale ? ' (STALE: import newer data)' : ''}`,
          );
      }),
    );
  connected(scanner.command('rescan').description('match every image against the current database again'))
    .option('--wait', 'wait for the run to end and print what it did')
    .action(
      run(async (client: ApiClient, flags: { wait?: boolean }) => {
        let runRow = await client.request<{
          id: number;
          status: string;
          summary: unknown;
          error: string | null;
        }>('POST', '/scanner/rescans');
        while (flags.wait && runRow.status === 'running') {
          await sleep(POLL_MS);
          runRow = await client.request('GET', `/scanner/rescans/${runRow.id}`);
        }
        if (!flags.wait) out(`rescan ${runRow.id} started`);
        else if (runRow.status === 'succeeded') out(`rescan ${runRow.id}: ${JSON.stringify(runRow.summary)}`);
        else throw new UsageError(`rescan ${runRow.id} ${runRow.status}: ${runRow.error ?? ''}`);
      }),
    );

  connected(
    project
      .command('scanning')
      .argument('<project>', 'project name')
      .description("show a project's scanning settings; flags change them (project administrators)"),
  )
    .option('--scan-on-push <on|off>', 'scan images as they are pushed')
    .option(
      '--block-severity <level>',
      'refuse pulls of images with a vulnerability this severe: Low, Medium, High, Critical or off',
    )
    .option('--block-root <on|off>', 'refuse pulls of images whose config runs as root')
    .option('--block-ssh <on|off>', 'refuse pulls of images with an SSH server installed')
    .option('--block-unscanned <on|off>', 'refuse pulls of images without a finished scan')
    .option(
      '--allow <ids...>',
      'allowlist advisories, each with an optional expiry: CVE-2024-1234 or CVE-2024-1234@2027-01-01',
    )
    .option('--disallow <id...>', 'remove advisories from the allowlist')
    .option('--adapter <url|off>', 'scan with a Harbor-compatible scanner adapter (Trivy, Clair…) instead')
    .option('--adapter-auth <value>', 'the Authorization header value the adapter expects')
    .option('--json', 'print JSON')
    .action(
      run(
        async (
          client: ApiClient,
          name: string,
          flags: {
            scanOnPush?: string;
            blockSeverity?: string;
            blockRoot?: string;
            blockSsh?: string;
            blockUnscanned?: string;
            allow?: string[];
            disallow?: string[];
            adapter?: string;
            adapterAuth?: string;
            json?: boolean;
          },
        ) => {
          const url = `/projects${path(name)}/scanning`;
          let settings = await client.request<ScanSettingsView>('GET', url);
          const change: Record<string, unknown> = {};
          const scanOnPush = onOff('--scan-on-push', flags.scanOnPush);
          if (scanOnPush !== undefined) change.scanOnPush = scanOnPush;
          if (flags.blockSeverity !== undefined) {
            change.blockSeverity = flags.blockSeverity === 'off' ? null : flags.blockSeverity;
          }
          for (const [flag, key, value] of [
            ['--block-root', 'blockRoot', flags.blockRoot],
            ['--block-ssh', 'blockSsh', flags.blockSsh],
            ['--block-unscanned', 'blockUnscanned', flags.blockUnscanned],
          ] as const) {
            const parsed = onOff(flag, value);
            if (parsed !== undefined) change[key] = parsed;
          }
          if (flags.allow || flags.disallow) {
            const removed = new Set([
              ...(flags.disallow ?? []),
              ...(flags.allow ?? []).map((a) => a.split('@')[0]),
            ]);
            const added = (flags.allow ?? []).map((text) => {
              const [id, expiry] = text.split('@') as [string, string | undefined];
              return expiry ? { id, expiresAt: expiry } : { id };
            });
            change.allowlist = [...settings.allowlist.filter((entry) => !removed.has(entry.id)), ...added];
          }
          if (flags.adapter !== undefined) {
            change.adapter =
              flags.adapter === 'off'
                ? null
                : { url: flags.adapter, ...(flags.adapterAuth && { authorization: flags.adapterAuth }) };
          }
          if (Object.keys(change).length > 0) {
            settings = await client.request<ScanSettingsView>('PATCH', url, { body: change });
          }
          out(flags.json ? JSON.stringify(settings, null, 2) : describeSettings(name, settings));
        },
      ),
    );
}
