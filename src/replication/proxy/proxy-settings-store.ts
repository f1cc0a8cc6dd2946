import type { Kysely } from 'kysely';
import type { Database } from '../../metadata/schema.js';

/** Table of migration 0012 (metadata/migration-proxy.ts). */
type ProxyTables = {
  proxy_projects: {
    project_id: number;
    url: string;
    username: string | null;
    /** Sealed with replication.secretKey (replication/secrets.ts); null: anonymous. */
    password: string | null;
    updated_at: number;
  };
};

/** A project's upstream as stored: the password still sealed. */
export interface StoredUpstream {
  url: string;
  username: string | null;
  sealedPassword: string | null;
  updatedAt: number;
}

/** The upstream registry each proxy project caches. */
export class ProxySettingsStore {
  private readonly db: Kysely<Database & ProxyTables>;

  constructor(db: Kysely<Database>) {
    this.db = db.withTables<ProxyTables>();
  }

  async get(project: string): Promise<StoredUpstream | undefined> {
    const row = await this.db
      .selectFrom('proxy_projects as x')
      .innerJoin('projects as p', 'p.id', 'x.project_id')
      .select(['x.url', 'x.username', 'x.password', 'x.updated_at'])
      .where('p.name', '=', project)
      .executeTakeFirst();
    return (
      row && {
        url: row.url,
        username: row.username,
        sealedPassword: row.password,
        updatedAt: Number(row.updated_at),
      }
    );
  }

  /** Every proxy project's name and upstream URL, by name (for containerd's `ns=`: which project caches a host). */
  async all(): Promise<{ project: string; url: string }[]> {
    const rows = await this.db
      .selectFrom('proxy_projects as x')
      .innerJoin('projects as p', 'p.id', 'x.project_id')
      .select(['p.name', 'x.url'])
      .orderBy('p.name')
      .execute();
    return rows.map((row) => ({ project: row.name, url: row.url }));
  }

  /** Binds the project to an upstream (or rebinds it); false when there is no such project. */
  async set(project: string, upstream: Omit<StoredUpstream, 'updatedAt'>): Promise<boolean> {
    const found = await this.db
      .selectFrom('projects')
      .select('id')
      .where('name', '=', project)
      .executeTakeFirst();
    if (!found) return false;
    const values = {
      url: upstream.url,
      username: upstream.username,
      password: upstream.sealedPassword,
      updated_at: Date.now(),
    };
    await this.db
      .insertInto('proxy_projects')
      .values({ project_id: found.id, ...values })
      .onConflict((oc) => oc.column('project_id').doUpdateSet(values))
      .execute();
    return true;
  }

  /** Makes the project an ordinary one again (what it cached stays). */
  async remove(project: string): Promise<void> {
    await this.db
      .deleteFrom('proxy_projects')
      .where('project_id', 'in', (qb) => qb.selectFrom('projects').select('id').where('name', '=', project))
      .execute();
  }
}
