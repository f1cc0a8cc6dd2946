import type { Schemas } from './api/client';

type Access = Pick<Schemas['ProjectAccess'], 'actions' | 'member'>;

/** What one part of a project's settings lets the caller do: see it, and change it. */
export interface Right {
  read: boolean;
  write: boolean;
}

/** What the console offers in a project: as the server decides each route (src/api/*-routes.ts). */
export interface ProjectRights {
  browse: boolean;
  /** The Members and Robots tabs: `members:manage` (project administrators). */
  manage: boolean;
  /** Read by members; set by system administrators only. */
  quota: Right;
  /** Read with `tags:manage` (maintainers up); changed with `project:settings` (project administrators). */
  immutability: Right;
  /** Retention, scanning and signature trust: read by members, changed with `project:settings`. */
  retention: Right;
  scanning: Right;
  trust: Right;
  /** The Webhooks tab: `project:settings` (project administrators). */
  webhooks: boolean;
  /** Whether the Policies tab has anything to show. */
  policies: boolean;
}

/**
 * The rights of the caller in a project from its access (`GET /projects/{name}/access`) and whether the session
 * is a system administrator's. Nothing the server would refuse is offered; what it would refuse to show is not
 * asked for (no 403 in the console's own requests).
 */
export function projectRights(access: Access | undefined, systemAdmin: boolean): ProjectRights {
  const can = (action: Access['actions'][number]) => access?.actions.includes(action) ?? false;
  const member = systemAdmin || (access?.member ?? false);
  const settings = can('project:settings');
  const membersRight = { read: member, write: member && settings };
  const rights = {
    browse: can('pull'),
    manage: can('members:manage'),
    quota: { read: member, write: systemAdmin },
    immutability: { read: can('tags:manage'), write: settings },
    retention: membersRight,
    scanning: membersRight,
    trust: membersRight,
    webhooks: settings,
  };
  return { ...rights, policies: member };
}

export type ProjectTab = 'repositories' | 'policies' | 'members' | 'robots' | 'webhooks';

/** The tabs of a project's page the caller has something in, in order. */
export function projectTabs(rights: ProjectRights): ProjectTab[] {
  return [
    ...(rights.browse ? (['repositories'] as const) : []),
    ...(rights.policies ? (['policies'] as const) : []),
    ...(rights.manage ? (['members', 'robots'] as const) : []),
    ...(rights.webhooks ? (['webhooks'] as const) : []),
  ];
}
