import {
  ACTIONS,
  type Action,
  AuthError,
  IpAllowlist,
  isProjectRole,
  type ProjectRole,
  parseSecretToken,
  type RobotPermission,
} from '../auth/index.js';
import { AccountError } from './types.js';

/** Usernames and robot names: no `$`, so `robot$<name>` can never be a username. */
const ACCOUNT_NAME = /^[a-z0-9][a-z0-9._-]{1,63}$/;
/** One repository path component (distribution-spec name grammar): a project is a first path segment. */
const PROJECT_NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const MAX_PROJECT_NAME = 255;
export const MIN_PASSWORD_LENGTH = 8;
/** Longer than any real password; bounds the scrypt input. */
export const MAX_PASSWORD_LENGTH = 1024;
const MAX_EMAIL_LENGTH = 254;
const MAX_DESCRIPTION_LENGTH = 1024;
const MAX_TOKEN_NAME_LENGTH = 100;
const MAX_GROUP_NAME_LENGTH = 256;
const MAX_PERMISSIONS = 100;

const invalid = (message: string) => new AccountError('INVALID', message);

export function isAccountName(name: string): boolean {
  return ACCOUNT_NAME.test(name);
}

export function checkUsername(username: string): string {
  if (!isAccountName(username)) {
    throw invalid(
      `invalid username ${JSON.stringify(username)}: 2–64 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit`,
    );
  }
  return username;
}

export function checkRobotName(name: string): string {
  if (!isAccountName(name)) {
    throw invalid(
      `invalid robot name ${JSON.stringify(name)}: 2–64 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit (without the robot$ prefix)`,
    );
  }
  return name;
}

export function checkProjectName(name: string): string {
  if (name.length > MAX_PROJECT_NAME || !PROJECT_NAME.test(name)) {
    throw invalid(
      `invalid project name ${JSON.stringify(name)}: one repository path component, [a-z0-9]+ joined by '.', '_', '__' or '-' (at most ${MAX_PROJECT_NAME} characters)`,
    );
  }
  return name;
}

export function checkPassword(password: string): string {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw invalid(`password too short: at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw invalid(`password too long: at most ${MAX_PASSWORD_LENGTH} characters`);
  }
  // Such a password would always be taken for an access token at login, and never work.
  if (parseSecretToken(password)) throw invalid('a password must not have the form of a berth_ token');
  return password;
}

export function checkEmail(email: string | null | undefined): string | null {
  if (email === undefined || email === null) return null;
  if (email.length > MAX_EMAIL_LENGTH || !/^[^\s@]+@[^\s@]+$/.test(email)) {
    throw invalid(`invalid email address ${JSON.stringify(email)}`);
  }
  return email;
}

export function checkDescription(description: string | undefined): string | null {
  if (description === undefined) return null;
  if (description.length > MAX_DESCRIPTION_LENGTH) {
    throw invalid(`description too long: at most ${MAX_DESCRIPTION_LENGTH} characters`);
  }
  return description;
}

export function checkTokenName(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (name.trim() === '' || name.length > MAX_TOKEN_NAME_LENGTH || /[\u0000-\u001f\u007f]/.test(name)) {
    throw invalid(
      `invalid token name ${JSON.stringify(name)}: 1–${MAX_TOKEN_NAME_LENGTH} printable characters`,
    );
  }
  return name;
}

export function checkRole(role: unknown): ProjectRole {
  if (!isProjectRole(role)) {
    throw invalid(`invalid role ${JSON.stringify(role)}: one of guest, developer, maintainer, projectAdmin`);
  }
  return role;
}

/** Group names are compared case-insensitively (authorize()); they are stored lowercase. */
export function checkGroupName(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (name.trim() === '' || name.length > MAX_GROUP_NAME_LENGTH || /[\u0000-\u001f\u007f]/.test(name)) {
    throw invalid(
      `invalid group name ${JSON.stringify(name)}: 1–${MAX_GROUP_NAME_LENGTH} printable characters`,
    );
  }
  return name.toLowerCase();
}

/** A time in the future (ms since the epoch), or null for never. */
export function checkExpiry(expiresAt: number | null | undefined, now: number): number | null {
  if (expiresAt === undefined || expiresAt === null) return null;
  if (!Number.isSafeInteger(expiresAt))
    throw invalid('expiresAt must be a time in milliseconds since the epoch');
  if (expiresAt <= now) throw invalid('expiresAt must be in the future');
  return expiresAt;
}

/** The CIDR list, trimmed; AuthError ALLOWLIST_INVALID becomes INVALID naming the entry. */
export function checkAllowlist(list: readonly string[] | null | undefined): string[] | null {
  if (list === undefined || list === null) return null;
  try {
    return [...IpAllowlist.parse(list).entries];
  } catch (error) {
    if (error instanceof AuthError) throw invalid(error.message);
    throw error;
  }
}

/**
 * Grants: known actions, no empty entries, one entry per project (merged), projects `*` or a valid project
 * name. Existence is checked by the caller, which has the database.
 */
export function checkPermissions(permissions: readonly RobotPermission[]): RobotPermission[] {
  if (!Array.isArray(permissions)) throw invalid('permissions must be a list');
  if (permissions.length > MAX_PERMISSIONS) throw invalid(`at most ${MAX_PERMISSIONS} permissions`);
  const byProject = new Map<string, Set<Action>>();
  for (const permission of permissions) {
    const { project, actions } = permission ?? {};
    if (typeof project !== 'string') throw invalid('each permission needs a project');
    if (project !== '*') checkProjectName(project);
    if (!Array.isArray(actions) || actions.length === 0) {
      throw invalid(`permission on ${JSON.stringify(project)} has no actions`);
    }
    const set = byProject.get(project) ?? new Set<Action>();
    for (const action of actions) {
      if (!(ACTIONS as readonly unknown[]).includes(action)) {
        throw invalid(`unknown action ${JSON.stringify(action)} (allowed: ${ACTIONS.join(', ')})`);
      }
      set.add(action);
    }
    byProject.set(project, set);
  }
  return [...byProject].map(([project, set]) => ({
    project,
    actions: ACTIONS.filter((action) => set.has(action)),
  }));
}

/** Only known actions survive a read of stored grants (a corrupted or newer row fails closed). */
export function knownActions(actions: readonly string[]): Action[] {
  return ACTIONS.filter((action) => actions.includes(action));
}
