// What the console offers in a project, per role: the same table the server authorizes with (src/auth/roles.ts),
// turned into what GET /projects/{name}/access answers, then into tabs and rights.
import { describe, expect, it } from 'vitest';
import { ACTIONS, actionsFor, type ProjectRole } from '../../src/auth/roles.js';
import type { Schemas } from '../src/api/client';
import { projectRights, projectTabs } from '../src/permissions';

type Access = Pick<Schemas['ProjectAccess'], 'actions' | 'member'>;

/** What /access answers a member with `role` (ACTIONS order, as the server lists them). */
const member = (role: ProjectRole): Access => ({
  actions: ACTIONS.filter((action) => actionsFor(role).has(action)),
  member: true,
});

describe('projectRights', () => {
  it('shows a stranger to a public project its repositories only', () => {
    const rights = projectRights({ actions: ['pull'], member: false }, false);
    expect(projectTabs(rights)).toEqual(['repositories']);
    expect(rights.quota.read || rights.retention.read || rights.trust.read).toBe(false);
  });

  it('shows a guest the policies read-only, without immutability rules (maintainers up)', () => {
    const rights = projectRights(member('guest'), false);
    expect(projectTabs(rights)).toEqual(['repositories', 'policies']);
    expect(rights.quota).toEqual({ read: true, write: false });
    expect(rights.immutability).toEqual({ read: false, write: false });
    expect(rights.retention).toEqual({ read: true, write: false });
    expect(rights.scanning).toEqual({ read: true, write: false });
    expect(rights.trust).toEqual({ read: true, write: false });
  });

  it('gives a developer no more than a guest in the policies', () => {
    expect(projectRights(member('developer'), false)).toEqual({
      ...projectRights(member('guest'), false),
      browse: true,
    });
  });

  it('shows a maintainer the immutability rules, still read-only', () => {
    const rights = projectRights(member('maintainer'), false);
    expect(rights.immutability).toEqual({ read: true, write: false });
    expect(rights.retention.write).toBe(false);
    expect(projectTabs(rights)).toEqual(['repositories', 'policies']);
  });

  it('lets a project administrator change everything but the quota', () => {
    const rights = projectRights(member('projectAdmin'), false);
    expect(rights.immutability).toEqual({ read: true, write: true });
    expect(rights.retention.write && rights.scanning.write && rights.trust.write).toBe(true);
    expect(rights.quota).toEqual({ read: true, write: false });
    expect(projectTabs(rights)).toEqual(['repositories', 'policies', 'members', 'robots', 'webhooks']);
  });

  it("offers a project's webhooks only with project:settings, as the server authorizes them", () => {
    for (const role of ['guest', 'developer', 'maintainer'] as const) {
      expect(projectRights(member(role), false).webhooks).toBe(false);
      expect(projectTabs(projectRights(member(role), false))).not.toContain('webhooks');
    }
    expect(projectRights(member('projectAdmin'), false).webhooks).toBe(true);
  });

  it('lets a system administrator set the quota too', () => {
    const rights = projectRights({ actions: [...ACTIONS], member: true }, true);
    expect(rights.quota).toEqual({ read: true, write: true });
    expect(projectTabs(rights)).toEqual(['repositories', 'policies', 'members', 'robots', 'webhooks']);
  });

  it('offers nothing before the access is known', () => {
    const rights = projectRights(undefined, false);
    expect(projectTabs(rights)).toEqual([]);
  });
});
