/**
 * Roles and what they allow on a project. Project roles are ordered guest < developer < maintainer <
 * projectAdmin; systemAdmin is not a project role: it holds every action on every project.
 */
export const PROJECT_ROLES = ['guest', 'developer', 'maintainer', 'projectAdmin'] as const;
export type ProjectRole = (typeof PROJECT_ROLES)[number];
export type Role = ProjectRole | 'systemAdmin';

/** Registry actions (the token scope's pull/push/delete) and project management actions. */
export const ACTIONS = [
  'pull',
  'push',
  'delete',
  'tags:manage',
  'members:manage',
  'project:settings',
  // Pull what a project's pull policy (signatures.required) refuses: system administrators, and robots granted it.
  'bypass-policy',
] as const;
export type Action = (typeof ACTIONS)[number];
/** The actions that change a project's content: these are the ones a project's IP allowlist restricts. */
export const WRITE_ACTIONS: ReadonlySet<Action> = new Set<Action>(['push', 'delete']);

const ROLE_ACTIONS: Record<Role, ReadonlySet<Action>> = {
  guest: new Set(['pull']),
  developer: new Set(['pull', 'push']),
  maintainer: new Set(['pull', 'push', 'delete', 'tags:manage']),
  projectAdmin: new Set(['pull', 'push', 'delete', 'tags:manage', 'members:manage', 'project:settings']),
  systemAdmin: new Set(ACTIONS),
};

export function actionsFor(role: Role): ReadonlySet<Action> {
  return ROLE_ACTIONS[role];
}

export function isProjectRole(value: unknown): value is ProjectRole {
  return typeof value === 'string' && (PROJECT_ROLES as readonly string[]).includes(value);
}

/** The higher of two project roles (a user may hold one directly and others through groups). */
export function higherRole(a: ProjectRole, b: ProjectRole): ProjectRole {
  return PROJECT_ROLES.indexOf(a) >= PROJECT_ROLES.indexOf(b) ? a : b;
}

// The project of a repository is a domain rule (metadata/ needs it too); auth/ keeps exporting it.
export { DEFAULT_PROJECT, projectOf } from '../domain/index.js';
