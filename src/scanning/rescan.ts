import type { JobContext } from '../lifecycle/index.js';
import type { ScanStore } from '../metadata/index.js';
import type { VulnerabilitySource } from './engines.js';
import { bySeverity, summarize } from './severity.js';
import type { Inventory } from './types.js';

const PAGE = 100;

export interface RescanSummary {
  dbVersion: number;
  /** Reports re-matched against the new database. */
  rematched: number;
  /** Of those, how many now list different findings. */
  changed: number;
  /** Reports that changed under the run (scanned again meanwhile): left to their newer scan. */
  skipped: number;
}

/**
 * Matches every stored inventory scanned against an older database than the current one again: no layer is
 * read, only the kept package lists. `onChanged` hears each report whose findings changed.
 */
export async function rematchAll(
  store: ScanStore,
  vulnerabilities: VulnerabilitySource,
  context: JobContext,
  onChanged: (repository: string, digest: string) => void,
): Promise<RescanSummary> {
  const database = await vulnerabilities.info();
  if (!database) throw new Error('no vulnerability database is imported');
  const total = await store.countOutdated(database.version);
  const summary: RescanSummary = { dbVersion: database.version, rematched: 0, changed: 0, skipped: 0 };
  let after = 0;
  for (;;) {
    if (context.signal.aborted) throw new Error('interrupted: the server is shutting down');
    const page = await store.outdated(database.version, after, PAGE);
    if (page.length === 0) break;
    for (const report of page) {
      after = report.id;
      const inventory = JSON.parse(report.inventory ?? '{}') as Inventory;
      const findings = (await vulnerabilities.match(inventory.packages ?? [], inventory.facts?.os)).sort(
        bySeverity,
      );
      const text = JSON.stringify(findings);
      const stored = await store.rematched(report.id, report.updatedAt, {
        findings: text,
        summary: JSON.stringify(summarize(findings)),
        dbVersion: database.version,
      });
      if (!stored) {
        summary.skipped += 1;
        continue;
      }
      summary.rematched += 1;
      if (text !== report.findings) {
        summary.changed += 1;
        onChanged(report.repository, report.digest);
      }
    }
    context.progress({ phase: 'rematching', done: summary.rematched + summary.skipped, total });
  }
  return summary;
}
