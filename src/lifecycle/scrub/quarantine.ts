import type { Kysely } from 'kysely';
import type { Database } from '../../metadata/index.js';
import { RegistryError } from '../../registry/index.js';

interface QuarantineTables {
  blob_quarantine: { digest: string; run_id: number; reason: string; quarantined_at: number };
}

export interface QuarantinedBlob {
  digest: string;
  runId: number;
  reason: string;
  quarantinedAt: number;
}

/** How long the set of quarantined digests is reused before it is read again (other nodes' quarantines). */
const REFRESH_MS = 5000;

/**
 * Blobs the integrity scrub found corrupt and quarantined (migration 0010): never served again. The registry's
 * admitBlobRead hook asks `admitBlobRead` before a blob GET sends bytes (or a redirect). The set is small and
 * read whole, at most every 5 s, so a GET costs no query; a quarantine made on another node applies here
 * within that time.
 */
export class BlobQuarantine {
  private readonly db: Kysely<QuarantineTables>;
  private cached: { at: number; blobs: Promise<Map<string, QuarantinedBlob>> } | undefined;

  constructor(db: Kysely<Database>) {
    this.db = db as unknown as Kysely<QuarantineTables>;
  }

  async add(digest: string, runId: number, reason: string, now = Date.now()): Promise<void> {
    await this.db
      .insertInto('blob_quarantine')
      .values({ digest, run_id: runId, reason, quarantined_at: now })
      .onConflict((oc) => oc.column('digest').doUpdateSet({ run_id: runId, reason, quarantined_at: now }))
      .execute();
    this.cached = undefined;
  }

  /** Lifts a quarantine (the bytes were repaired); false when the blob was not quarantined. */
  async remove(digest: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('blob_quarantine')
      .where('digest', '=', digest)
      .executeTakeFirst();
    this.cached = undefined;
    return Number(result.numDeletedRows) > 0;
  }

  async list(): Promise<QuarantinedBlob[]> {
    return [...(await this.current()).values()].sort((a, b) => a.quarantinedAt - b.quarantinedAt);
  }

  async get(digest: string): Promise<QuarantinedBlob | undefined> {
    return (await this.current()).get(digest);
  }

  /**
   * Refuses a quarantined blob with BLOB_UNKNOWN (404) and a message that says why: the registry does not have
   * a good copy, which is what 404 means, and it is permanent until repaired (a 503 would make clients retry).
   */
  readonly admitBlobRead = async (_repository: string, digest: string): Promise<void> => {
    const blob = await this.get(digest);
    if (!blob) return;
    throw new RegistryError('BLOB_UNKNOWN', {
      message: `blob ${digest} is corrupt (quarantined by scrub run ${blob.runId}): ${blob.reason}`,
      detail: { digest, quarantinedBy: blob.runId },
    });
  };

  private current(): Promise<Map<string, QuarantinedBlob>> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > REFRESH_MS) {
      const blobs = this.db
        .selectFrom('blob_quarantine')
        .selectAll()
        .execute()
        .then(
          (rows) =>
            new Map(
              rows.map((row) => [
                row.digest,
                {
                  digest: row.digest,
                  runId: Number(row.run_id),
                  reason: row.reason,
                  quarantinedAt: Number(row.quarantined_at),
                },
              ]),
            ),
        );
      this.cached = { at: now, blobs };
      blobs.catch(() => {
        if (this.cached?.blobs === blobs) this.cached = undefined;
      });
    }
    return this.cached.blobs;
  }
}
