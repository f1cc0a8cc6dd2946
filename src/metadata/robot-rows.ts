import type { Selectable, Updateable } from 'kysely';
import { type Db, flag, formatPermissions, type PermissionRow, parsePermissions } from './account-columns.js';
import type { Database } from './schema.js';

export interface RobotRow {
  id: number;
  /** Without the `robot$` login prefix. */
  name: string;
  description: string | null;
  secretId: string;
  secretHash: string;
  permissions: PermissionRow[];
  expiresAt: number | null;
  disabled: boolean;
  createdBy: string;
  createdAt: number;
}

export interface RobotChanges {
  disabled?: boolean;
  permissions?: readonly PermissionRow[];
  expiresAt?: number | null;
  secretId?: string;
  secretHash?: string;
}

function toRobotRow(row: Selectable<Database['robots']>): RobotRow {
  return {
    id: Number(row.id),
    name: row.name,
    description: row.description,
    secretId: row.secret_id,
    secretHash: row.secret_hash,
    permissions: parsePermissions(row.permissions),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    disabled: row.disabled === 1,
    createdBy: row.created_by,
    createdAt: Number(row.created_at),
  };
}

/** Robots scanned per round when listing a project's robots (permissions are JSON, filtered here). */
const SCAN_BATCH = 200;

/** The robots table. */
export class RobotRows {
  constructor(private readonly db: Db) {}

  async byName(name: string): Promise<RobotRow | undefined> {
    const row = await this.db.selectFrom('robots').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toRobotRow(row);
  }

  /** Undefined when the name is taken. */
  async insert(robot: Omit<RobotRow, 'id' | 'disabled'>): Promise<RobotRow | undefined> {
    const row = await this.db
      .insertInto('robots')
      .values({
        name: robot.name,
        description: robot.description,
        secret_id: robot.secretId,
        secret_hash: robot.secretHash,
        permissions: formatPermissions(robot.permissions),
        expires_at: robot.expiresAt,
        disabled: 0,
        created_by: robot.createdBy,
        created_at: robot.createdAt,
      })
      .onConflict((oc) => oc.column('name').doNothing())
      .returningAll()
      .executeTakeFirst();
    return row && toRobotRow(row);
  }

  /**
   * Robots in byte order of name after `after`, at most `limit`; with `project`, only those granted something
   * on that project by name.
   */
  async list(limit: number, after?: string, project?: string): Promise<RobotRow[]> {
    if (project === undefined) {
      let query = this.db.selectFrom('robots').selectAll();
      if (after !== undefined) query = query.where('name', '>', after);
      return (await query.orderBy('name').limit(limit).execute()).map(toRobotRow);
    }
    // LIKE narrows the scan (it may over-match: `_` and, on SQLite, case); the exact check is on parsed JSON.
    const pattern = `%${JSON.stringify({ project }).slice(1, -1)}%`;
    const found: RobotRow[] = [];
    let cursor = after;
    for (;;) {
      let query = this.db.selectFrom('robots').selectAll().where('permissions', 'like', pattern);
      if (cursor !== undefined) query = query.where('name', '>', cursor);
      const rows = (await query.orderBy('name').limit(SCAN_BATCH).execute()).map(toRobotRow);
      for (const row of rows) {
        if (row.permissions.some((permission) => permission.project === project)) found.push(row);
        if (found.length === limit) return found;
      }
      if (rows.length < SCAN_BATCH) return found;
      cursor = rows[rows.length - 1]?.name;
    }
  }

  /** Every robot whose permissions name the project (for removing its grants with the project). */
  async grantingProject(project: string): Promise<RobotRow[]> {
    const pattern = `%${JSON.stringify({ project }).slice(1, -1)}%`;
    const rows = await this.db
      .selectFrom('robots')
      .selectAll()
      .where('permissions', 'like', pattern)
      .execute();
    return rows.map(toRobotRow).filter((row) => row.permissions.some((p) => p.project === project));
  }

  async update(name: string, changes: RobotChanges): Promise<RobotRow | undefined> {
    const set: Updateable<Database['robots']> = {};
    if (changes.disabled !== undefined) set.disabled = flag(changes.disabled);
    if (changes.permissions !== undefined) set.permissions = formatPermissions(changes.permissions);
    if (changes.expiresAt !== undefined) set.expires_at = changes.expiresAt;
    if (changes.secretId !== undefined) set.secret_id = changes.secretId;
    if (changes.secretHash !== undefined) set.secret_hash = changes.secretHash;
    if (Object.keys(set).length === 0) return this.byName(name);
    const row = await this.db
      .updateTable('robots')
      .set(set)
      .where('name', '=', name)
      .returningAll()
      .executeTakeFirst();
    return row && toRobotRow(row);
  }

  /** False when there was no such robot. */
  async delete(name: string): Promise<boolean> {
    const result = await this.db.deleteFrom('robots').where('name', '=', name).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}
