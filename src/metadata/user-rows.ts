import { type Selectable, sql, type Updateable } from 'kysely';
import { type Db, flag, parseStringList } from './account-columns.js';
import type { Database } from './schema.js';

export interface UserRow {
  id: number;
  username: string;
  /** scrypt hash; null for LDAP and OIDC users. */
  passwordHash: string | null;
  email: string | null;
  source: 'local' | 'ldap' | 'oidc';
  systemAdmin: boolean;
  disabled: boolean;
  /** LDAP and OIDC users: the groups the directory or provider gave at their last login. */
  ldapGroups: string[] | null;
  createdAt: number;
  passwordChangedAt: number;
}

export interface NewUserRow {
  username: string;
  passwordHash: string;
  email: string | null;
  systemAdmin: boolean;
  now: number;
}

export interface UserChanges {
  passwordHash?: string;
  passwordChangedAt?: number;
  email?: string | null;
  systemAdmin?: boolean;
  disabled?: boolean;
}

export function toUserRow(row: Selectable<Database['users']>): UserRow {
  return {
    id: Number(row.id),
    username: row.username,
    passwordHash: row.password_hash,
    email: row.email,
    source: row.source === 'ldap' || row.source === 'oidc' ? row.source : 'local',
    systemAdmin: row.system_admin === 1,
    disabled: row.disabled === 1,
    ldapGroups: parseStringList(row.ldap_groups),
    createdAt: Number(row.created_at),
    passwordChangedAt: Number(row.password_changed_at),
  };
}

/** The users table: local and LDAP users, keyed by username (compared bytewise). */
export class UserRows {
  constructor(private readonly db: Db) {}

  async byName(username: string): Promise<UserRow | undefined> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where('username', '=', username)
      .executeTakeFirst();
    return row && toUserRow(row);
  }

  async anyExists(): Promise<boolean> {
    const row = await this.db.selectFrom('users').select('id').limit(1).executeTakeFirst();
    return row !== undefined;
  }

  /** A local user; undefined when the username is taken (the unique constraint decides, also across nodes). */
  async insertLocal(user: NewUserRow): Promise<UserRow | undefined> {
    const row = await this.db
      .insertInto('users')
      .values({
        username: user.username,
        password_hash: user.passwordHash,
        email: user.email,
        source: 'local',
        system_admin: flag(user.systemAdmin),
        disabled: 0,
        ldap_groups: null,
        created_at: user.now,
        password_changed_at: user.now,
      })
      .onConflict((oc) => oc.column('username').doNothing())
      .returningAll()
      .executeTakeFirst();
    return row && toUserRow(row);
  }

  /**
   * Creates or refreshes an LDAP user's row (email, groups). Undefined when the name belongs to a local user:
   * a directory entry never takes over a local account.
   */
  async upsertLdap(user: {
    username: string;
    email: string | null;
    groups: readonly string[];
    now: number;
  }): Promise<UserRow | undefined> {
    const groups = JSON.stringify(user.groups);
    const row = await this.db
      .insertInto('users')
      .values({
        username: user.username,
        password_hash: null,
        email: user.email,
        source: 'ldap',
        system_admin: 0,
        disabled: 0,
        ldap_groups: groups,
        created_at: user.now,
        password_changed_at: user.now,
      })
      .onConflict((oc) =>
        oc
          .column('username')
          .doUpdateSet({ email: user.email, ldap_groups: groups })
          .where('users.source', '=', 'ldap'),
      )
      .returningAll()
      .executeTakeFirst();
    return row && toUserRow(row);
  }

  /**
   * Users in byte order of username after `after`, at most `limit`; with `search`, only those whose username
   * or e-mail address contains it (case-insensitive, taken literally: `%` and `_` are no wildcards).
   */
  async list(limit: number, after?: string, search?: string): Promise<UserRow[]> {
    let query = this.db.selectFrom('users').selectAll();
    if (after !== undefined) query = query.where('username', '>', after);
    if (search !== undefined && search !== '') {
      const pattern = `%${search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      query = query.where(
        sql<boolean>`(lower(username) like ${pattern} escape '\\' or lower(email) like ${pattern} escape '\\')`,
      );
    }
    const rows = await query.orderBy('username').limit(limit).execute();
    return rows.map(toUserRow);
  }

  /** The updated row; undefined when there is no such user. */
  async update(username: string, changes: UserChanges): Promise<UserRow | undefined> {
    const set: Updateable<Database['users']> = {};
    if (changes.passwordHash !== undefined) set.password_hash = changes.passwordHash;
    if (changes.passwordChangedAt !== undefined) set.password_changed_at = changes.passwordChangedAt;
    if (changes.email !== undefined) set.email = changes.email;
    if (changes.systemAdmin !== undefined) set.system_admin = flag(changes.systemAdmin);
    if (changes.disabled !== undefined) set.disabled = flag(changes.disabled);
    if (Object.keys(set).length === 0) return this.byName(username);
    const row = await this.db
      .updateTable('users')
      .set(set)
      .where('username', '=', username)
      .returningAll()
      .executeTakeFirst();
    return row && toUserRow(row);
  }

  /**
   * Deletes the user and their project memberships (kept by name, so a later user of the same name would
   * inherit them); their tokens, sessions and CLI secret go with the row (foreign keys cascade). The names of
   * the projects they were a member of; undefined when there is no such user. Call inside a transaction.
   */
  async delete(username: string): Promise<string[] | undefined> {
    const projects = await this.db
      .selectFrom('project_members as m')
      .innerJoin('projects as p', 'p.id', 'm.project_id')
      .select('p.name')
      .where('m.kind', '=', 'user')
      .where('m.name', '=', username)
      .execute();
    await this.db
      .deleteFrom('project_members')
      .where('kind', '=', 'user')
      .where('name', '=', username)
      .execute();
    const result = await this.db.deleteFrom('users').where('username', '=', username).executeTakeFirst();
    return result.numDeletedRows > 0n ? projects.map((row) => row.name) : undefined;
  }

  /** Whether an enabled system administrator other than `username` exists. */
  async otherActiveAdminExists(username: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('users')
      .select('id')
      .where('system_admin', '=', 1)
      .where('disabled', '=', 0)
      .where('username', '!=', username)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }
}
