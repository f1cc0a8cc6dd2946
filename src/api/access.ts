import {
  type Action,
  actionsFor,
  authorize,
  basicChallenge,
  type Identity,
  PROJECT_ROLES,
  type ProjectPolicy,
  type RobotPermission,
} from '../auth/index.js';
import { RegistryError } from '../registry/index.js';
import type { Call, ProjectNeed } from './route.js';

/** The realm of the Basic challenge /api/v1 sends: browsers and curl prompt for a user and password. */
export const REALM = 'berth';

/**
 * System administration through this API needs a password login or an unrestricted token: a personal access
 * token that carries permissions grants project actions only (authorize() applies them), never user or
 * system management.
 */
export function isSystemAdmin(identity: Identity): boolean {
  return identity.kind === 'user' && identity.systemAdmin === true && identity.limit === undefined;
}

/** Whether the caller is the user `username` (signed in as them, with a password, token or session). */
export function isUser(identity: Identity, username: string): boolean {
  return identity.kind === 'user' && identity.username === username;
}

/** Signed in with a personal access token that carries permissions. */
export function isRestricted(identity: Identity): boolean {
  return identity.kind === 'user' && identity.limit !== undefined;
}

const ROBOT_PREFIX = 'robot$';

/** A robot's name without the `robot$` prefix, whichever way the identity spells it. */
export function robotName(name: string): string {
  return name.startsWith(ROBOT_PREFIX) ? name.slice(ROBOT_PREFIX.length) : name;
}

/** The name an identity logs in with: a username, `robot$<name>`, or `anonymous`. */
export function loginOf(identity: Identity): string {
  if (identity.kind === 'user') return identity.username;
  if (identity.kind === 'robot') return `${ROBOT_PREFIX}${robotName(identity.name)}`;
  return 'anonymous';
}

export const RESTRICTED =
  'a personal access token with permissions is limited to project actions; use your password or an unrestricted token';

export function unauthorized(message = 'authentication required'): RegistryError {
  return new RegistryError('UNAUTHORIZED', {
    message,
    headers: { 'www-authenticate': basicChallenge(REALM) },
  });
}

export function denied(message: string, detail?: unknown): RegistryError {
  return new RegistryError('DENIED', { message, detail });
}

export function requireAuthenticated(identity: Identity): void {
  if (identity.kind === 'anonymous') throw unauthorized();
}

export function requireSystemAdmin(identity: Identity, what: string): void {
  requireAuthenticated(identity);
  if (isRestricted(identity)) throw denied(`${what}: ${RESTRICTED}`);
  if (!isSystemAdmin(identity)) throw denied(`${what} needs system administrator rights`);
}

/** Who the systemAdmin gate (requireSystemAdmin) lets in, in the document's words. */
export const SYSTEM_ADMINS = 'system administrators';

/** Who requireMember lets in, in the document's words. */
export const MEMBERS =
  'members of the project (any role, robots with a permission on it) and system administrators';

/** Who requireProjectAction lets take `project:settings`, in the document's words. */
export const PROJECT_ADMINS = 'project administrators and system administrators';

/** Who requireOwner lets in, in the document's words. */
export const OWNERS = 'the user themself and system administrators; never robots';

/**
 * A user's own credentials (personal access tokens, sessions, CLI secret) are theirs: the user manages their
 * own, system administrators anyone's; never robots (told they cannot `robotsCannot`: `manage sessions`), nor a
 * personal access token limited to project actions.
 */
export function requireOwner(identity: Identity, username: string, what: string, robotsCannot: string): void {
  if (identity.kind === 'robot') throw denied(`robots cannot ${robotsCannot} (${what})`);
  if (isRestricted(identity)) throw denied(`${what}: ${RESTRICTED}`);
  if (!isUser(identity, username) && !isSystemAdmin(identity)) {
    throw denied(`${what} of another user needs system administrator rights`);
  }
}

/** The lowest project role that grants `action`, to tell a denied caller what is missing. */
function roleFor(action: Action): string {
  return PROJECT_ROLES.find((role) => actionsFor(role).has(action)) ?? 'systemAdmin';
}

/** The project's policy; NOT_FOUND when there is no such project. */
export async function policyOf(
  call: Call<unknown, unknown, unknown>,
  project: string,
): Promise<ProjectPolicy> {
  const policy = await call.options.accounts.projectPolicy(project);
  if (!policy) throw new RegistryError('NOT_FOUND', { message: `project '${project}' not found` });
  return policy;
}

/** Whether the caller may take `action` on the project, without throwing. */
export function allows(
  call: Call<unknown, unknown, unknown>,
  policy: ProjectPolicy,
  action: Action,
): boolean {
  return authorize({
    identity: call.identity,
    project: policy,
    action,
    sourceIp: call.options.sourceIp(call.request),
  }).allowed;
}

/**
 * Whether the caller is a member of the project (any role, a robot with a permission on it) or a system
 * administrator: pull on the project were it private. Membership, not visibility: a public project's settings
 * (quota, retention, trust) are still its members' business.
 */
export function isMember(call: Call<unknown, unknown, unknown>, policy: ProjectPolicy): boolean {
  return allows(call, { ...policy, public: false }, 'pull');
}

/** Throws 403 unless the caller isMember of the project. */
export async function requireMember(
  call: Call<unknown, unknown, unknown>,
  project: string,
  what: string,
): Promise<void> {
  const policy = await policyOf(call, project);
  if (!isMember(call, policy)) {
    throw denied(`${what} needs a role in project '${project}'`, { project });
  }
}

/** Throws 401 or 403 (saying what is missing) unless the caller may take `action` on the project. */
export async function requireProjectAction(
  call: Call<unknown, unknown, unknown>,
  project: string,
  action: Action,
  what: string,
): Promise<ProjectPolicy> {
  const policy = await policyOf(call, project);
  checkProjectAction(call, policy, action, what);
  return policy;
}

/** A route's `project` check, on the project `{name}` of its path. */
export async function requireProject(
  call: Call<unknown, unknown, unknown>,
  need: ProjectNeed,
  what: string,
): Promise<void> {
  const { name } = call.params as { name: string };
  if (need === 'member') await requireMember(call, name, what);
  else await requireProjectAction(call, name, need, what);
}

function checkProjectAction(
  call: Call<unknown, unknown, unknown>,
  policy: ProjectPolicy,
  action: Action,
  what: string,
): void {
  const decision = authorize({
    identity: call.identity,
    project: policy,
    action,
    sourceIp: call.options.sourceIp(call.request),
  });
  if (decision.allowed) return;
  const project = policy.name;
  switch (decision.reason) {
    case 'unauthenticated':
      throw unauthorized();
    case 'expired':
      throw unauthorized('the robot account has expired');
    case 'address-not-allowed':
      throw denied(`${what}: project '${project}' does not allow ${action} from this address`);
    case 'forbidden':
      throw denied(`${what} needs the ${roleFor(action)} role (${action}) in project '${project}'`, {
        project,
        action,
      });
  }
}

/**
 * Robots are managed by system administrators, and by project administrators when every permission the robot
 * holds (or is to hold) is on a project they administer. '*' (every project) is for system administrators.
 * `grant`: the permissions are being given now, so each project must exist (a grant on a missing project
 * would silently give nothing); an existing robot may still name a project deleted since.
 */
export async function requireRobotAuthority(
  call: Call<unknown, unknown, unknown>,
  permissions: readonly RobotPermission[],
  what: string,
  grant: boolean,
): Promise<void> {
  requireAuthenticated(call.identity);
  const admin = isSystemAdmin(call.identity);
  if (!admin && permissions.length === 0) throw denied(`${what} needs system administrator rights`);
  for (const { project } of permissions) {
    if (project === '*') {
      if (admin) continue;
      throw denied(`${what}: permissions on every project ('*') need system administrator rights`);
    }
    const policy = await call.options.accounts.projectPolicy(project);
    if (!policy) {
      if (grant) throw new RegistryError('NOT_FOUND', { message: `project '${project}' not found` });
      if (!admin) throw denied(`${what}: project '${project}' is gone; only system administrators may`);
      continue;
    }
    if (!admin) checkProjectAction(call, policy, 'members:manage', what);
  }
}

/** Whether the caller administers at least one project the robot has a permission on (enough to read it). */
export async function administersAnyOf(
  call: Call<unknown, unknown, unknown>,
  permissions: readonly RobotPermission[],
): Promise<boolean> {
  if (isSystemAdmin(call.identity)) return true;
  for (const { project } of permissions) {
    if (project === '*') continue;
    const policy = await call.options.accounts.projectPolicy(project);
    if (policy && allows(call, policy, 'members:manage')) return true;
  }
  return false;
}
