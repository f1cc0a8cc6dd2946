import type { Selectable } from 'kysely';
import { type Db, formatPermissions, type PermissionRow, parsePermissions } from './account-columns.js';
import type { Database } from './schema.js';
import { toUserRow, type UserRow } from './user-rows.js';

export interface AccessTokenRow {
  id: string;
  userId: number;
  name: string;
  secretHash: string;
  permissions: PermissionRow[] | null;
  expiresAt: number | null;
  createdAt: number;
  lastUsedAt: number | null;
}

function toAccessTokenRow(row: Selectable<Database['access_tokens']>): AccessTokenRow {
  return {
    id: row.id,
    userId: Number(row.user_id),
    name: row.name,
    secretHash: row.secret_hash,
    permissions: row.permissions === null ? null : parsePermissions(row.permissions),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    createdAt: Number(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
  };
}

/** The access_tokens table: users' personal access tokens, found by the id part of the token. */
export class AccessTokenRows {
  constructor(private readonly db: Db) {}

  /** The token and its user, in one query (a login with a token needs both). */
  async withUser(id: string): Promise<{ token: AccessTokenRow; user: UserRow } | undefined> {
    const row = await this.db
      .selectFrom('access_tokens as t')
      .innerJoin('users as u', 'u.id', 't.user_id')
      .selectAll('u')
      .select([
        't.id as token_id',
        't.user_id as token_user_id',
        't.name as token_name',
        't.secret_hash as token_secret_hash',
        't.permissions as token_permissions',
        't.expires_at as token_expires_at',
        't.created_at as token_created_at',
        't.last_used_at as token_last_used_at',
      ])
      .where('t.id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      token: toAccessTokenRow({
        id: row.token_id,
        user_id: row.token_user_id,
        name: row.token_name,
        secret_hash: row.token_secret_hash,
        permissions: row.token_permissions,
        expires_at: row.token_expires_at,
        created_at: row.token_created_at,
        last_used_at: row.token_last_used_at,
      }),
      user: toUserRow(row),
    };
  }

  async insert(token: Omit<AccessTokenRow, 'lastUsedAt'>): Promise<AccessTokenRow> {
    const row = await this.db
      .insertInto('access_tokens')
      .values({
        id: token.id,
        user_id: token.userId,
        name: token.name,
        secret_hash: token.secretHash,
        permissions: token.permissions === null ? null : formatPermissions(token.permissions),
        expires_at: token.expiresAt,
        created_at: token.createdAt,
        last_used_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toAccessTokenRow(row);
  }

  /** A user's tokens, oldest first. */
  async ofUser(userId: number): Promise<AccessTokenRow[]> {
    const rows = await this.db
      .selectFrom('access_tokens')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toAccessTokenRow);
  }

  /** Every token whose permissions name the project (for removing its grants with the project). */
  async grantingProject(project: string): Promise<AccessTokenRow[]> {
    const pattern = `%${JSON.stringify({ project }).slice(1, -1)}%`;
    const rows = await this.db
      .selectFrom('access_tokens')
      .selectAll()
      .where('permissions', 'like', pattern)
      .execute();
    return rows
      .map(toAccessTokenRow)
      .filter((row) => row.permissions?.some((permission) => permission.project === project));
  }

  async setPermissions(id: string, permissions: readonly PermissionRow[]): Promise<void> {
    await this.db
      .updateTable('access_tokens')
      .set({ permissions: formatPermissions(permissions) })
      .where('id', '=', id)
      .execute();
  }

  /** Records a use; skipped by the caller when the last one is recent, to keep logins write-free. */
  async touch(id: string, now: number): Promise<void> {
    await this.db.updateTable('access_tokens').set({ last_used_at: now }).where('id', '=', id).execute();
  }

  /** False when the user has no such token. */
  async delete(userId: number, id: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('access_tokens')
      .where('user_id', '=', userId)
      .where('id', '=', id)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}
