import { IpAllowlist } from './ip-allowlist.js';
import { type Action, actionsFor, higherRole, type ProjectRole, projectOf, WRITE_ACTIONS } from './roles.js';
import { type Access, intersect, type ScopeAction } from './scope.js';

/** A robot's grant on one project; project `*` covers every project (a system-level robot). */
export interface RobotPermission {
  project: string;
  actions: readonly Action[];
}

/** Who is asking. The server builds it after checking credentials; this module trusts it. */
export type Identity =
  | { kind: 'anonymous' }
  | {
      kind: 'user';
      username: string;
      /** Group names (e.g. LDAP groups); matched case-insensitively against group members. */
      groups?: readonly string[];
      systemAdmin?: boolean;
      /**
       * Set when the user signed in with a personal access token that carries permissions: the user may then
       * do only what both their roles and these grants allow. Public pulls stay allowed (anonymous has them).
       */
      limit?: readonly RobotPermission[];
    }
  | { kind: 'robot'; name: string; expiresAt: Date | null; permissions: readonly RobotPermission[] };

export interface ProjectMember {
  kind: 'user' | 'group';
  name: string;
  role: ProjectRole;
}

/** The facts about a project that decisions need. */
export interface ProjectPolicy {
  name: string;
  /** Public projects can be pulled by anyone, anonymous included. */
  public: boolean;
  members: readonly ProjectMember[];
  /** When set, push and delete are allowed only from these addresses, for every identity. */
  pushAllowlist?: IpAllowlist | readonly string[] | null;
}

export interface DecisionContext {
  identity: Identity;
  project: ProjectPolicy;
  /** The client address as the server sees it (after trusted-proxy handling). */
  sourceIp?: string;
  now?: Date;
}

export type DenyReason = 'unauthenticated' | 'expired' | 'forbidden' | 'address-not-allowed';
export type Decision = { allowed: true } | { allowed: false; reason: DenyReason };

function robotExpired(identity: Identity, now: Date): boolean {
  return (
    identity.kind === 'robot' && identity.expiresAt !== null && identity.expiresAt.getTime() <= now.getTime()
  );
}

/** The actions `permissions` grant on the project (project `*` covers every project). */
function permissionActions(permissions: readonly RobotPermission[], project: string): Set<Action> {
  const actions = new Set<Action>();
  for (const permission of permissions) {
    if (permission.project === project || permission.project === '*') {
      for (const action of permission.actions) actions.add(action);
    }
  }
  return actions;
}

/** What a user's roles (system, direct, through groups) give on the project. */
function userRoleActions(identity: Identity & { kind: 'user' }, project: ProjectPolicy): Set<Action> {
  const actions = new Set<Action>(identity.systemAdmin ? actionsFor('systemAdmin') : []);
  const groups = new Set((identity.groups ?? []).map((group) => group.toLowerCase()));
  let role: ProjectRole | null = null;
  for (const member of project.members) {
    const matches =
      member.kind === 'user' ? member.name === identity.username : groups.has(member.name.toLowerCase());
    if (matches) role = role ? higherRole(role, member.role) : member.role;
  }
  for (const action of role ? actionsFor(role) : []) actions.add(action);
  if (identity.limit) {
    const allowed = permissionActions(identity.limit, project.name);
    for (const action of actions) if (!allowed.has(action)) actions.delete(action);
  }
  return actions;
}

/** What the identity's role or grants give on the project, before network restrictions. */
function grantedActions(identity: Identity, project: ProjectPolicy, now: Date): Set<Action> {
  const granted = new Set<Action>(project.public ? ['pull'] : []);
  const add = (actions: Iterable<Action>) => {
    for (const action of actions) granted.add(action);
  };
  if (identity.kind === 'user') {
    add(userRoleActions(identity, project));
  } else if (identity.kind === 'robot' && !robotExpired(identity, now)) {
    add(permissionActions(identity.permissions, project.name));
  }
  return granted;
}

function addressAllowed(project: ProjectPolicy, sourceIp: string | undefined): boolean {
  const list = project.pushAllowlist;
  if (list == null) return true;
  const allowlist = list instanceof IpAllowlist ? list : IpAllowlist.parse(list);
  // No known address with an allowlist in force: fail closed.
  return sourceIp !== undefined && allowlist.allows(sourceIp);
}

/** Every action the identity may take on the project from `sourceIp` now. */
export function permittedActions(context: DecisionContext): Set<Action> {
  const granted = grantedActions(context.identity, context.project, context.now ?? new Date());
  if (!addressAllowed(context.project, context.sourceIp)) {
    for (const action of WRITE_ACTIONS) granted.delete(action);
  }
  return granted;
}

/**
 * May the identity take `action` on the project? A denial says why, so the server can answer 401 (unauthenticated,
 * expired: send a challenge) or 403 (forbidden, address-not-allowed).
 */
export function authorize(context: DecisionContext & { action: Action }): Decision {
  if (permittedActions(context).has(context.action)) return { allowed: true };
  const { identity } = context;
  const now = context.now ?? new Date();
  if (identity.kind === 'anonymous') return { allowed: false, reason: 'unauthenticated' };
  if (robotExpired(identity, now)) return { allowed: false, reason: 'expired' };
  if (grantedActions(identity, context.project, now).has(context.action)) {
    return { allowed: false, reason: 'address-not-allowed' };
  }
  return { allowed: false, reason: 'forbidden' };
}

/** The token-scope actions a set of actions amounts to; `*` only when pull, push and delete are all there. */
export function scopeActionsFor(actions: ReadonlySet<Action>): ScopeAction[] {
  const registry: ScopeAction[] = (['pull', 'push', 'delete'] as const).filter((action) =>
    actions.has(action),
  );
  return registry.length === 3 ? [...registry, '*'] : registry;
}

/**
 * Only system administrators list the whole catalog (registry:catalog:*); through a personal access token,
 * only when the token may pull from every project (`*`).
 */
export function canListCatalog(identity: Identity): boolean {
  if (identity.kind !== 'user' || identity.systemAdmin !== true) return false;
  return (
    identity.limit === undefined ||
    identity.limit.some((permission) => permission.project === '*' && permission.actions.includes('pull'))
  );
}

/**
 * The token endpoint's decision: the part of `requested` the identity holds. `project` looks a project up by
 * name (the caller fetches the few projects the scopes name, see projectOf). A repository in a project that
 * does not exist is granted to system administrators only, so they can push to create it if the server allows.
 */
export function grantAccess(options: {
  identity: Identity;
  requested: readonly Access[];
  project: (name: string) => ProjectPolicy | undefined;
  sourceIp?: string;
  now?: Date;
}): Access[] {
  const { identity, requested, sourceIp, now } = options;
  const allowed: Access[] = [];
  for (const entry of requested) {
    if (entry.type === 'registry') {
      if (canListCatalog(identity)) allowed.push({ type: 'registry', name: entry.name, actions: ['*'] });
      continue;
    }
    const name = projectOf(entry.name);
    const project = options.project(name) ?? { name, public: false, members: [], pushAllowlist: null };
    const actions = permittedActions({ identity, project, sourceIp, now });
    allowed.push({ type: 'repository', name: entry.name, actions: scopeActionsFor(actions) });
  }
  return intersect(requested, allowed);
}
