import { type Generated, type Kysely, sql, type Transaction } from 'kysely';
import type { Database } from './schema.js';

/** The tables of migration 0007 (migration-signatures.ts). */
export type SignatureTables = {
  trusted_keys: {
    id: Generated<number>;
    project_id: number;
    name: string;
    public_key_pem: string;
    created_at: number;
  };
  notation_trust_stores: {
    id: Generated<number>;
    project_id: number;
    name: string;
    /** JSON array of PEM certificates. */
    root_certificates: string;
    /** JSON array of Notary Project trusted identities. */
    trusted_identities: string;
    created_at: number;
  };
  signature_policies: {
    project_id: number;
    required: string;
    /** JSON array of repository globs; null: every repository of the project. */
    repositories: string | null;
    trust_version: number;
    updated_at: number;
  };
};

type Db = Kysely<Database & SignatureTables>;
type Trx = Transaction<Database & SignatureTables>;

export interface TrustedKeyRow {
  id: number;
  name: string;
  publicKeyPem: string;
  createdAt: number;
}

export interface NotationStoreRow {
  id: number;
  name: string;
  rootCertificatesPem: string[];
  trustedIdentities: string[];
  createdAt: number;
}

export interface SignaturePolicyRow {
  required: string;
  repositories: string[] | null;
  updatedAt: number | null;
}

/** Everything a project trusts and requires, as stored; `version` 0 when nothing was ever set. */
export interface ProjectTrustRow {
  project: string;
  version: number;
  keys: TrustedKeyRow[];
  notation: NotationStoreRow[];
  policy: SignaturePolicyRow;
}

/** A name already taken in the project (keys and trust stores are named uniquely per project). */
export class DuplicateTrustName extends Error {
  constructor(readonly trustName: string) {
    super(`'${trustName}' is taken`);
  }
}

/** Trust configuration and signature policies per project (migration 0007). */
export class SignatureStore {
  private readonly db: Db;

  constructor(db: Kysely<Database>) {
    this.db = db.withTables<SignatureTables>();
  }

  /** The project's trust and policy; undefined when there is no such project. */
  async trust(project: string): Promise<ProjectTrustRow | undefined> {
    const row = await this.db
      .selectFrom('projects as p')
      .leftJoin('signature_policies as s', 's.project_id', 'p.id')
      .select(['p.id', 's.required', 's.repositories', 's.trust_version', 's.updated_at'])
      .where('p.name', '=', project)
      .executeTakeFirst();
    if (!row) return undefined;
    const [keys, stores] = await Promise.all([
      this.db.selectFrom('trusted_keys').selectAll().where('project_id', '=', row.id).orderBy('id').execute(),
      this.db
        .selectFrom('notation_trust_stores')
        .selectAll()
        .where('project_id', '=', row.id)
        .orderBy('id')
        .execute(),
    ]);
    return {
      project,
      version: Number(row.trust_version ?? 0),
      keys: keys.map((k) => ({
        id: Number(k.id),
        name: k.name,
        publicKeyPem: k.public_key_pem,
        createdAt: Number(k.created_at),
      })),
      notation: stores.map((s) => ({
        id: Number(s.id),
        name: s.name,
        rootCertificatesPem: JSON.parse(s.root_certificates) as string[],
        trustedIdentities: JSON.parse(s.trusted_identities) as string[],
        createdAt: Number(s.created_at),
      })),
      policy: {
        required: row.required ?? 'off',
        repositories: row.repositories ? (JSON.parse(row.repositories) as string[]) : null,
        updatedAt: row.updated_at === null ? null : Number(row.updated_at),
      },
    };
  }

  /**
   * The manifests of `repository` that reference `child` (as a blob: config or layer; as a manifest: an index
   * listing it), at most `limit` of them: what the pull-time policy asks of a blob or a child manifest.
   */
  async manifestsReferencing(
    repository: string,
    child: string,
    kind: 'blob' | 'manifest',
    limit: number,
  ): Promise<string[]> {
    const rows = await this.db
      .selectFrom('manifest_references as mr')
      .innerJoin('repositories as r', 'r.id', 'mr.repository_id')
      .select('mr.manifest_digest')
      .where('r.name', '=', repository)
      .where('mr.child_digest', '=', child)
      .where('mr.kind', '=', kind)
      .limit(limit)
      .execute();
    return rows.map((row) => row.manifest_digest);
  }

  /** Undefined when there is no such project; DuplicateTrustName when the name is taken. */
  async addKey(project: string, name: string, publicKeyPem: string): Promise<TrustedKeyRow | undefined> {
    return this.change(project, async (trx, projectId, now) => {
      await requireFreeName(trx, 'trusted_keys', projectId, name);
      const inserted = await trx
        .insertInto('trusted_keys')
        .values({ project_id: projectId, name, public_key_pem: publicKeyPem, created_at: now })
        .returning('id')
        .executeTakeFirstOrThrow();
      return { id: Number(inserted.id), name, publicKeyPem, createdAt: now };
    });
  }

  /** False when the project has no such key (or there is no such project). */
  async removeKey(project: string, id: number): Promise<boolean> {
    return this.removeTrustItem('trusted_keys', project, id);
  }

  async addNotation(
    project: string,
    store: { name: string; rootCertificatesPem: string[]; trustedIdentities: string[] },
  ): Promise<NotationStoreRow | undefined> {
    return this.change(project, async (trx, projectId, now) => {
      await requireFreeName(trx, 'notation_trust_stores', projectId, store.name);
      const inserted = await trx
        .insertInto('notation_trust_stores')
        .values({
          project_id: projectId,
          name: store.name,
          root_certificates: JSON.stringify(store.rootCertificatesPem),
          trusted_identities: JSON.stringify(store.trustedIdentities),
          created_at: now,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return { id: Number(inserted.id), ...store, createdAt: now };
    });
  }

  /** False when the project has no such trust store (or there is no such project). */
  async removeNotation(project: string, id: number): Promise<boolean> {
    return this.removeTrustItem('notation_trust_stores', project, id);
  }

  /** False when there is no such project. */
  async setPolicy(project: string, required: string, repositories: string[] | null): Promise<boolean> {
    const done = await this.change(project, async () => true, {
      required,
      repositories: repositories === null ? null : JSON.stringify(repositories),
    });
    return done === true;
  }

  private async removeTrustItem(table: TrustTable, project: string, id: number): Promise<boolean> {
    const removed = await this.change(project, async (trx, projectId) => {
      const result = await trx
        .deleteFrom(table)
        .where('project_id', '=', projectId)
        .where('id', '=', id)
        .executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) throw new NothingChanged();
      return true;
    });
    return removed === true;
  }

  /**
   * Runs `work` in a transaction with the project's id, then moves the trust version forward (creating the
   * policy row, `off`, when missing) and applies `policy` when given. Undefined when there is no such project
   * or `work` threw NothingChanged.
   */
  private async change<T>(
    project: string,
    work: (trx: Trx, projectId: number, now: number) => Promise<T>,
    policy?: { required: string; repositories: string | null },
  ): Promise<T | undefined> {
    try {
      return await this.db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom('projects')
          .select('id')
          .where('name', '=', project)
          .executeTakeFirst();
        if (!row) return undefined;
        const projectId = Number(row.id);
        const now = Date.now();
        const result = await work(trx, projectId, now);
        // Strictly increasing per project, and never below the clock: a project deleted and created again
        // starts above every version its predecessor used, so no cache entry of the old one can match.
        const next = sql<number>`case when signature_policies.trust_version + 1 > ${now} then signature_policies.trust_version + 1 else ${now} end`;
        await trx
          .insertInto('signature_policies')
          .values({
            project_id: projectId,
            required: policy?.required ?? 'off',
            repositories: policy?.repositories ?? null,
            trust_version: now,
            updated_at: now,
          })
          .onConflict((oc) =>
            oc.column('project_id').doUpdateSet({
              trust_version: next,
              updated_at: now,
              ...(policy && { required: policy.required, repositories: policy.repositories }),
            }),
          )
          .execute();
        return result;
      });
    } catch (error) {
      if (error instanceof NothingChanged) return undefined;
      throw error;
    }
  }
}

class NothingChanged extends Error {}

/** The tables of things a project trusts, each named uniquely within its project. */
type TrustTable = 'trusted_keys' | 'notation_trust_stores';

/** Throws DuplicateTrustName when the project already has an item of that name in `table`. */
async function requireFreeName(trx: Trx, table: TrustTable, projectId: number, name: string): Promise<void> {
  const taken = await trx
    .selectFrom(table)
    .select('id')
    .where('project_id', '=', projectId)
    .where('name', '=', name)
    .executeTakeFirst();
  if (taken) throw new DuplicateTrustName(name);
}
