import type { Kysely } from 'kysely';
import { inProject } from './lifecycle-store.js';
import type { Database } from './schema.js';

/** A project's retention policy as stored: the rules are JSON that lifecycle/retention validates. */
export interface RetentionPolicyRow {
  project: string;
  rules: unknown;
  schedule: string | null;
  updatedAt: number;
}

/** A manifest of a project's repository, with what retention judges it by. */
export interface ProjectManifestRow {
  repository: string;
  digest: string;
  /** When it was first pushed to the repository (a later push of the same bytes does not change it). */
  createdAt: number;
  /** Null: never pulled (or not since pulls were recorded). */
  lastPulledAt: number | null;
  /** Its tags in the repository, sorted. */
  tags: string[];
  /** The manifest it refers to (OCI 1.1 `subject`): a signature, an SBOM, an attestation… */
  subject: string | null;
  /** Its child manifests when it is an index (the repository holds them too). */
  children: string[];
  /** Whether an index of the same repository lists it as a child. */
  indexChild: boolean;
}

/** `in (…)` lists are sent in slices of this many values. */
const SLICE = 500;

function slices<T>(values: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < values.length; i += SLICE) out.push(values.slice(i, i + SLICE));
  return out;
}

/** Retention policies, and the reads a retention run makes of a project's manifests, tags and referrers. */
export class RetentionStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Undefined when there is no such project; `policy` null when it has none. */
  async policy(project: string): Promise<{ policy: RetentionPolicyRow | null } | undefined> {
    const row = await this.db
      .selectFrom('projects as p')
      .leftJoin('retention_policies as rp', 'rp.project_id', 'p.id')
      .select(['p.name', 'rp.rules', 'rp.schedule', 'rp.updated_at'])
      .where('p.name', '=', project)
      .executeTakeFirst();
    if (!row) return undefined;
    if (row.rules === null || row.updated_at === null) return { policy: null };
    return {
      policy: {
        project: row.name,
        rules: JSON.parse(row.rules),
        schedule: row.schedule,
        updatedAt: Number(row.updated_at),
      },
    };
  }

  /** Creates or replaces the project's policy; undefined when there is no such project. */
  async setPolicy(
    project: string,
    rules: unknown,
    schedule: string | null,
    now = Date.now(),
  ): Promise<RetentionPolicyRow | undefined> {
    const owner = await this.db
      .selectFrom('projects')
      .select('id')
      .where('name', '=', project)
      .executeTakeFirst();
    if (!owner) return undefined;
    const text = JSON.stringify(rules);
    await this.db
      .insertInto('retention_policies')
      .values({ project_id: Number(owner.id), rules: text, schedule, updated_at: now })
      .onConflict((oc) => oc.column('project_id').doUpdateSet({ rules: text, schedule, updated_at: now }))
      .execute();
    return { project, rules, schedule, updatedAt: now };
  }

  /** Every policy with a schedule, by project name. */
  async scheduled(): Promise<RetentionPolicyRow[]> {
    const rows = await this.db
      .selectFrom('retention_policies as rp')
      .innerJoin('projects as p', 'p.id', 'rp.project_id')
      .select(['p.name', 'rp.rules', 'rp.schedule', 'rp.updated_at'])
      .where('rp.schedule', 'is not', null)
      .orderBy('p.name')
      .execute();
    return rows.map((row) => ({
      project: row.name,
      rules: JSON.parse(row.rules),
      schedule: row.schedule,
      updatedAt: Number(row.updated_at),
    }));
  }

  /** Every manifest of the project's repositories (three index scans, joined here), by repository and digest. */
  async manifests(project: string): Promise<ProjectManifestRow[]> {
    const manifests = await this.db
      .selectFrom('manifests as m')
      .innerJoin('repositories as r', 'r.id', 'm.repository_id')
      .select(['r.name', 'm.digest', 'm.created_at', 'm.last_pulled_at', 'm.subject'])
      .where((eb) => inProject(eb, project))
      .orderBy('r.name')
      .orderBy('m.digest')
      .execute();
    const tags = await this.db
      .selectFrom('tags as t')
      .innerJoin('repositories as r', 'r.id', 't.repository_id')
      .select(['r.name as repository', 't.name', 't.manifest_digest'])
      .where((eb) => inProject(eb, project))
      .orderBy('t.name')
      .execute();
    const children = await this.db
      .selectFrom('manifest_references as mr')
      .innerJoin('repositories as r', 'r.id', 'mr.repository_id')
      .select(['r.name', 'mr.manifest_digest', 'mr.child_digest'])
      .where('mr.kind', '=', 'manifest')
      .where((eb) => inProject(eb, project))
      .execute();

    const rows = new Map<string, ProjectManifestRow>();
    for (const m of manifests) {
      rows.set(`${m.name}@${m.digest}`, {
        repository: m.name,
        digest: m.digest,
        createdAt: Number(m.created_at),
        lastPulledAt: m.last_pulled_at === null ? null : Number(m.last_pulled_at),
        tags: [],
        subject: m.subject,
        children: [],
        indexChild: false,
      });
    }
    for (const tag of tags) rows.get(`${tag.repository}@${tag.manifest_digest}`)?.tags.push(tag.name);
    for (const edge of children) {
      rows.get(`${edge.name}@${edge.manifest_digest}`)?.children.push(edge.child_digest);
      const child = rows.get(`${edge.name}@${edge.child_digest}`);
      if (child) child.indexChild = true;
    }
    return [...rows.values()];
  }

  /** The manifests of the repository whose subject is one of `subjects` (their direct referrers). */
  async referrers(
    repository: string,
    subjects: readonly string[],
  ): Promise<{ digest: string; subject: string }[]> {
    const found: { digest: string; subject: string }[] = [];
    for (const slice of slices(subjects)) {
      const rows = await this.db
        .selectFrom('manifests as m')
        .innerJoin('repositories as r', 'r.id', 'm.repository_id')
        .select(['m.digest', 'm.subject'])
        .where('r.name', '=', repository)
        .where('m.subject', 'in', slice)
        .orderBy('m.digest')
        .execute();
      for (const row of rows)
        if (row.subject !== null) found.push({ digest: row.digest, subject: row.subject });
    }
    return found;
  }

  /** The current tags of each of the manifests (sorted; absent: no tags, or no such manifest). */
  async tags(repository: string, digests: readonly string[]): Promise<Map<string, string[]>> {
    const tags = new Map<string, string[]>();
    for (const slice of slices(digests)) {
      const rows = await this.db
        .selectFrom('tags as t')
        .innerJoin('repositories as r', 'r.id', 't.repository_id')
        .select(['t.name', 't.manifest_digest'])
        .where('r.name', '=', repository)
        .where('t.manifest_digest', 'in', slice)
        .orderBy('t.name')
        .execute();
      for (const row of rows) {
        const list = tags.get(row.manifest_digest);
        if (list) list.push(row.name);
        else tags.set(row.manifest_digest, [row.name]);
      }
    }
    return tags;
  }
}
