import type { Identity, RobotPermission } from '../auth/index.js';
import type { AccessTokenRow, PermissionRow, ProjectRow, RobotRow, UserRow } from '../metadata/index.js';
import { knownActions } from './account-validation.js';
import type { AccessToken, Project, Robot, User } from './types.js';

/** Robots log in as `robot$<name>`; token subjects and robot identities carry the same form. */
export const ROBOT_PREFIX = 'robot$';

export function toPermissions(rows: readonly PermissionRow[]): RobotPermission[] {
  return rows.map((row) => ({ project: row.project, actions: knownActions(row.actions) }));
}

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    source: row.source,
    systemAdmin: row.systemAdmin,
    disabled: row.disabled,
    createdAt: row.createdAt,
  };
}

export function toProject(row: ProjectRow): Project {
  return {
    id: row.id,
    name: row.name,
    public: row.public,
    pushAllowlist: row.pushAllowlist,
    createdAt: row.createdAt,
  };
}

export function toRobot(row: RobotRow): Robot {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    permissions: toPermissions(row.permissions),
    expiresAt: row.expiresAt,
    disabled: row.disabled,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
  };
}

export function toAccessToken(row: AccessTokenRow, username: string): AccessToken {
  return {
    id: row.id,
    username,
    name: row.name,
    permissions: row.permissions === null ? null : toPermissions(row.permissions),
    expiresAt: row.expiresAt,
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt,
  };
}

/** A user's identity now: stored LDAP groups, admin flag, and a token's narrowing when signed in with one. */
export function userIdentity(row: UserRow, limit?: readonly PermissionRow[] | null): Identity {
  return {
    kind: 'user',
    username: row.username,
    systemAdmin: row.systemAdmin,
    ...(row.ldapGroups ? { groups: row.ldapGroups } : {}),
    ...(limit ? { limit: toPermissions(limit) } : {}),
  };
}

export function robotIdentity(row: RobotRow): Identity {
  return {
    kind: 'robot',
    name: `${ROBOT_PREFIX}${row.name}`,
    expiresAt: row.expiresAt === null ? null : new Date(row.expiresAt),
    permissions: toPermissions(row.permissions),
  };
}

/** Usable now: not disabled, not expired. */
export function robotActive(row: RobotRow, now: number): boolean {
  return !row.disabled && (row.expiresAt === null || row.expiresAt > now);
}
