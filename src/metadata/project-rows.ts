import {
  type Expression,
  type ExpressionBuilder,
  type Selectable,
  type SqlBool,
  sql,
  type Updateable,
} from 'kysely';
import { type Db, flag, parseStringList } from './account-columns.js';
import type { Database } from './schema.js';

export interface ProjectRow {
  id: number;
  name: string;
  public: boolean;
  pushAllowlist: string[] | null;
  createdAt: number;
}

export interface MemberRow {
  kind: 'user' | 'group';
  name: string;
  role: string;
}

/**
 * Which projects an identity sees besides public ones: those where a user or one of their groups is a member
 * (optionally only among `within`), and those named outright.
 */
export interface ProjectVisibility {
  member?: { username: string; groups: readonly string[]; within?: readonly string[] };
  names?: readonly string[];
}

export function toProjectRow(row: Selectable<Database['projects']>): ProjectRow {
  return {
    id: Number(row.id),
    name: row.name,
    public: row.public === 1,
    pushAllowlist: parseStringList(row.push_allowlist),
    createdAt: Number(row.created_at),
  };
}

function toMemberRow(row: { kind: string; name: string; role: string }): MemberRow {
  return { kind: row.kind === 'group' ? 'group' : 'user', name: row.name, role: row.role };
}

function visible(
  eb: ExpressionBuilder<Database & { p: Database['projects'] }, 'p'>,
  visibility: ProjectVisibility,
): Expression<SqlBool> {
  const anyOf: Expression<SqlBool>[] = [eb('p.public', '=', 1)];
  const { member, names } = visibility;
  if (names && names.length > 0) anyOf.push(eb('p.name', 'in', [...names]));
  if (member && (member.within === undefined || member.within.length > 0)) {
    const groups = [...member.groups];
    const isMember = eb.exists(
      eb
        .selectFrom('project_members as m')
        .select('m.project_id')
        .whereRef('m.project_id', '=', 'p.id')
        .where((m) =>
          m.or([
            m.and([m('m.kind', '=', 'user'), m('m.name', '=', member.username)]),
            // Group names are stored lowercase (the service folds them), so this is an index lookup.
            ...(groups.length > 0 ? [m.and([m('m.kind', '=', 'group'), m('m.name', 'in', groups)])] : []),
          ]),
        ),
    );
    anyOf.push(member.within ? eb.and([isMember, eb('p.name', 'in', [...member.within])]) : isMember);
  }
  return eb.or(anyOf);
}

/** The projects and project_members tables. */
export class ProjectRows {
  constructor(private readonly db: Db) {}

  async byName(name: string): Promise<ProjectRow | undefined> {
    const row = await this.db.selectFrom('projects').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toProjectRow(row);
  }

  /** A project with its members, in one query (the token endpoint asks for this on every request). */
  async withMembers(name: string): Promise<{ project: ProjectRow; members: MemberRow[] } | undefined> {
    const rows = await this.db
      .selectFrom('projects as p')
      .leftJoin('project_members as m', 'm.project_id', 'p.id')
      .selectAll('p')
      .select(['m.kind as member_kind', 'm.name as member_name', 'm.role as member_role'])
      .where('p.name', '=', name)
      .execute();
    const first = rows[0];
    if (!first) return undefined;
    const members = rows.flatMap((row) =>
      row.member_kind === null || row.member_name === null || row.member_role === null
        ? []
        : [toMemberRow({ kind: row.member_kind, name: row.member_name, role: row.member_role })],
    );
    return { project: toProjectRow(first), members };
  }

  /** Undefined when the name is taken. */
  async insert(project: {
    name: string;
    public: boolean;
    pushAllowlist: readonly string[] | null;
    now: number;
  }): Promise<ProjectRow | undefined> {
    const row = await this.db
      .insertInto('projects')
      .values({
        name: project.name,
        public: flag(project.public),
        push_allowlist: project.pushAllowlist === null ? null : JSON.stringify(project.pushAllowlist),
        created_at: project.now,
      })
      .onConflict((oc) => oc.column('name').doNothing())
      .returningAll()
      .executeTakeFirst();
    return row && toProjectRow(row);
  }

  /**
   * Projects in byte order of name after `after`, at most `limit`, optionally only those visible and only those
   * whose name contains `search` (taken literally: `%`, `_` and `\` are no wildcards).
   */
  async list(
    limit: number,
    after?: string,
    visibility?: ProjectVisibility,
    search?: string,
  ): Promise<ProjectRow[]> {
    let query = this.db.selectFrom('projects as p').selectAll('p');
    if (after !== undefined) query = query.where('p.name', '>', after);
    if (visibility) query = query.where((eb) => visible(eb, visibility));
    if (search) {
      const literal = search.replace(/[\\%_]/g, (c) => `\\${c}`);
      query = query.where(sql<boolean>`p.name like ${`%${literal}%`} escape '\\'`);
    }
    const rows = await query.orderBy('p.name').limit(limit).execute();
    return rows.map(toProjectRow);
  }

  /** Names of every visible project, in byte order. */
  async visibleNames(visibility: ProjectVisibility): Promise<string[]> {
    const rows = await this.db
      .selectFrom('projects as p')
      .select('p.name')
      .where((eb) => visible(eb, visibility))
      .orderBy('p.name')
      .execute();
    return rows.map((row) => row.name);
  }

  /** Which of `names` exist. */
  async existing(names: readonly string[]): Promise<Set<string>> {
    if (names.length === 0) return new Set();
    const rows = await this.db
      .selectFrom('projects')
      .select('name')
      .where('name', 'in', [...names])
      .execute();
    return new Set(rows.map((row) => row.name));
  }

  async update(
    name: string,
    changes: { public?: boolean; pushAllowlist?: readonly string[] | null },
  ): Promise<ProjectRow | undefined> {
    const set: Updateable<Database['projects']> = {};
    if (changes.public !== undefined) set.public = flag(changes.public);
    if (changes.pushAllowlist !== undefined) {
      set.push_allowlist = changes.pushAllowlist === null ? null : JSON.stringify(changes.pushAllowlist);
    }
    if (Object.keys(set).length === 0) return this.byName(name);
    const row = await this.db
      .updateTable('projects')
      .set(set)
      .where('name', '=', name)
      .returningAll()
      .executeTakeFirst();
    return row && toProjectRow(row);
  }

  /**
   * Whether a repository lives in the project: one named `project/…`, or, with `topLevel` (the default
   * project, see auth projectOf), one without a slash.
   */
  async hasRepositories(name: string, topLevel: boolean): Promise<boolean> {
    // A range instead of LIKE (`_` is a LIKE wildcard and project names may hold it); '0' follows '/'.
    const row = await this.db
      .selectFrom('repositories')
      .select('id')
      .where((eb) => {
        const nested = eb.and([eb('name', '>', `${name}/`), eb('name', '<', `${name}0`)]);
        return topLevel ? eb.or([nested, eb('name', 'not like', '%/%')]) : nested;
      })
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  async delete(id: number): Promise<void> {
    await this.db.deleteFrom('project_members').where('project_id', '=', id).execute();
    await this.db.deleteFrom('projects').where('id', '=', id).execute();
  }

  async members(projectId: number): Promise<MemberRow[]> {
    const rows = await this.db
      .selectFrom('project_members')
      .select(['kind', 'name', 'role'])
      .where('project_id', '=', projectId)
      .orderBy('kind', 'desc')
      .orderBy('name')
      .execute();
    return rows.map(toMemberRow);
  }

  /** Adds the member or changes its role. */
  async setMember(projectId: number, member: MemberRow, now: number): Promise<void> {
    await this.db
      .insertInto('project_members')
      .values({
        project_id: projectId,
        kind: member.kind,
        name: member.name,
        role: member.role,
        created_at: now,
      })
      .onConflict((oc) => oc.columns(['project_id', 'kind', 'name']).doUpdateSet({ role: member.role }))
      .execute();
  }

  /** False when there was no such member. */
  async removeMember(projectId: number, kind: string, name: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('project_members')
      .where('project_id', '=', projectId)
      .where('kind', '=', kind)
      .where('name', '=', name)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}
