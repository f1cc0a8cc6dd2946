import { describe, expect, it } from 'vitest';
import {
  ACTIONS,
  type Action,
  actionsFor,
  DEFAULT_PROJECT,
  higherRole,
  isProjectRole,
  PROJECT_ROLES,
  projectOf,
  type Role,
} from '../../../src/auth/index.js';

describe('actionsFor', () => {
  it.each<[Role, Action[]]>([
    ['guest', ['pull']],
    ['developer', ['pull', 'push']],
    ['maintainer', ['pull', 'push', 'delete', 'tags:manage']],
    ['projectAdmin', ['pull', 'push', 'delete', 'tags:manage', 'members:manage', 'project:settings']],
    ['systemAdmin', [...ACTIONS]],
  ])('%s may %j', (role, actions) => {
    expect([...actionsFor(role)].sort()).toEqual([...actions].sort());
  });

  it('each project role holds everything the role below it holds, and more', () => {
    for (let i = 1; i < PROJECT_ROLES.length; i++) {
      const lower = actionsFor(PROJECT_ROLES[i - 1] as Role);
      const higher = actionsFor(PROJECT_ROLES[i] as Role);
      for (const action of lower) expect(higher.has(action)).toBe(true);
      expect(higher.size).toBeGreaterThan(lower.size);
    }
  });
});

describe('higherRole', () => {
  it('orders guest < developer < maintainer < projectAdmin', () => {
    expect(higherRole('guest', 'developer')).toBe('developer');
    expect(higherRole('projectAdmin', 'maintainer')).toBe('projectAdmin');
    expect(higherRole('maintainer', 'developer')).toBe('maintainer');
    expect(higherRole('guest', 'guest')).toBe('guest');
  });
});

describe('isProjectRole', () => {
  it('accepts the four project roles only', () => {
    for (const role of PROJECT_ROLES) expect(isProjectRole(role)).toBe(true);
    expect(isProjectRole('systemAdmin')).toBe(false);
    expect(isProjectRole('admin')).toBe(false);
    expect(isProjectRole(undefined)).toBe(false);
  });
});

describe('projectOf', () => {
  it.each([
    ['team/app', 'team'],
    ['team/group/app', 'team'],
    ['library/busybox', 'library'],
    ['busybox', DEFAULT_PROJECT],
    ['registry.example.com/app', 'registry.example.com'],
  ])('%s belongs to project %s', (repository, project) => {
    expect(projectOf(repository)).toBe(project);
  });

  it('uses "library" as the default project, as Harbor names it', () => {
    expect(DEFAULT_PROJECT).toBe('library');
  });
});
