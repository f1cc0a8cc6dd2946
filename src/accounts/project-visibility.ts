import type { Identity, RobotPermission } from '../auth/index.js';
import type { ProjectVisibility } from '../metadata/index.js';

function pullable(permissions: readonly RobotPermission[]): string[] {
  return permissions.filter((permission) => permission.actions.includes('pull')).map((p) => p.project);
}

/**
 * Which projects an identity may see (list in _catalog and /api/v1/projects): every one for system
 * administrators; otherwise public ones plus those it may pull from: where the user or one of their groups
 * is a member (every role pulls), or a robot's pull grants. A personal access token's limit narrows the
 * member projects (and an administrator's 'all') to its pull grants.
 */
export function visibilityFor(identity: Identity, now: number): ProjectVisibility | 'all' {
  switch (identity.kind) {
    case 'anonymous':
      return {};
    case 'robot': {
      if (identity.expiresAt !== null && identity.expiresAt.getTime() <= now) return {};
      const projects = pullable(identity.permissions);
      return projects.includes('*') ? 'all' : { names: projects };
    }
    case 'user': {
      const limit = identity.limit ? pullable(identity.limit) : undefined;
      const within = limit?.includes('*') ? undefined : limit;
      if (identity.systemAdmin) return within === undefined ? 'all' : { names: within };
      const groups = (identity.groups ?? []).map((group) => group.toLowerCase());
      return {
        member: { username: identity.username, groups, ...(within === undefined ? {} : { within }) },
      };
    }
  }
}
