// Lists answer {items, next?} with a Link header to the next page; following them visits everything once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Caller, type Harness, PASSWORD, startHarness } from './api-harness.js';

interface PageBody<T> {
  items: T[];
  next?: string;
}

/** Follows Link headers from `url`, checking each against `next`; returns every page's items. */
async function walk<T>(h: Harness, caller: Caller, url: string): Promise<T[][]> {
  const pages: T[][] = [];
  let current: string | undefined = url;
  while (current !== undefined) {
    const response = await h.request(caller, 'GET', current);
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json() as PageBody<T>;
    pages.push(body.items);
    const link = response.headers.link as string | undefined;
    if (body.next === undefined) {
      expect(link).toBeUndefined();
      current = undefined;
    } else {
      expect(link).toMatch(/^<\/api\/v1\/[^>]+>; rel="next"$/);
      current = (link as string).slice(1, (link as string).indexOf('>'));
      expect(
        new URL(current, 'http://x').searchParams.get(url.includes('/audit') ? 'before' : 'cursor'),
      ).toBe(body.next);
    }
    expect(pages.length).toBeLessThan(100);
  }
  return pages;
}

describe('/api/v1 pagination', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    for (let i = 0; i < 5; i++) {
      await h.accounts.createUser({ username: `page-user-${i}`, password: PASSWORD });
      await h.accounts.createProject({ name: `page-project-${i}` });
      await h.accounts.setMember('team', { kind: 'group', name: `page-group-${i}`, role: 'guest' });
      await h.accounts.createRobot({
        name: `page-robot-${i}`,
        permissions: [{ project: 'team', actions: ['pull'] }],
        createdBy: 'admin',
      });
      await h.accounts.createAccessToken({ username: 'alice', name: `page-token-${i}` });
    }
  });
  afterAll(() => h.close());

  it('defaults to 100 items and sends no Link on the last page', async () => {
    const response = await h.request('systemAdmin', 'GET', '/api/v1/users');
    const body = response.json() as PageBody<{ username: string }>;
    expect(body.items.map((u) => u.username)).toEqual([
      'admin',
      'alice',
      'bob',
      'padmin',
      'page-user-0',
      'page-user-1',
      'page-user-2',
      'page-user-3',
      'page-user-4',
    ]);
    expect(body.next).toBeUndefined();
    expect(response.headers.link).toBeUndefined();
  });

  it('pages users two at a time, visiting each once in order', async () => {
    const pages = await walk<{ username: string }>(h, 'systemAdmin', '/api/v1/users?limit=2');
    expect(pages.map((p) => p.length)).toEqual([2, 2, 2, 2, 1]);
    const names = pages.flat().map((u) => u.username);
    expect(names).toEqual([...names].sort());
    expect(new Set(names).size).toBe(9);
  });

  it('pages projects, keeping only what the caller may see', async () => {
    const all = (await walk<{ name: string }>(h, 'systemAdmin', '/api/v1/projects?limit=3')).flat();
    expect(all.map((p) => p.name)).toEqual(
      expect.arrayContaining(['library', 'team', 'other', 'page-project-0', 'page-project-4']),
    );
    expect(all).toHaveLength(8);
    const anonymous = (await walk<{ name: string }>(h, 'anonymous', '/api/v1/projects?limit=1')).flat();
    expect(anonymous.map((p) => p.name)).toEqual(['library']);
    const padmin = (await walk<{ name: string }>(h, 'projectAdmin', '/api/v1/projects?limit=1')).flat();
    expect(padmin.map((p) => p.name)).toEqual(['library', 'team']);
  });

  it('pages members (an in-memory list) by kind and name', async () => {
    const pages = await walk<{ kind: string; name: string }>(
      h,
      'projectAdmin',
      '/api/v1/projects/team/members?limit=4',
    );
    expect(pages.map((p) => p.length)).toEqual([4, 2]);
    expect(pages.flat().map((m) => `${m.kind}:${m.name}`)).toEqual([
      'group:page-group-0',
      'group:page-group-1',
      'group:page-group-2',
      'group:page-group-3',
      'group:page-group-4',
      'user:padmin',
    ]);
  });

  it('pages robots, filtered by project', async () => {
    const pages = await walk<{ name: string }>(h, 'projectAdmin', '/api/v1/robots?project=team&limit=2');
    expect(pages.flat().map((r) => r.name)).toEqual([
      'ci',
      'page-robot-0',
      'page-robot-1',
      'page-robot-2',
      'page-robot-3',
      'page-robot-4',
    ]);
  });

  it("pages a user's tokens", async () => {
    const pages = await walk<{ name: string }>(h, 'user', '/api/v1/users/alice/tokens?limit=2');
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(new Set(pages.flat().map((t) => t.name)).size).toBe(5);
  });

  it('refuses a cursor it did not make', async () => {
    const response = await h.request('projectAdmin', 'GET', '/api/v1/projects/team/members?cursor=%25%25');
    expect(response.statusCode).toBe(400);
    const users = await h.request('systemAdmin', 'GET', '/api/v1/users?cursor=bogus');
    expect(users.statusCode).toBe(400);
  });

  it('pages the audit log newest first with `before`, keeping the filters in the Link', async () => {
    for (let i = 0; i < 7; i++) {
      h.audit.record({
        actor: 'x',
        actorKind: 'user',
        action: 'push',
        resource: `team/app:${i}`,
        result: 'success',
      });
      h.audit.record({
        actor: 'y',
        actorKind: 'user',
        action: 'pull',
        resource: `team/app:${i}`,
        result: 'success',
      });
    }
    const pages = await walk<{ id: number; actor: string }>(
      h,
      'systemAdmin',
      '/api/v1/audit?actor=x&limit=3',
    );
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    const ids = pages.flat().map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(pages.flat().every((e) => e.actor === 'x')).toBe(true);
  });

  it("keeps a project's pages exact when other projects share its prefix (team vs teamwork)", async () => {
    // Enough events of a neighbouring project between the team's to need several store rounds per page.
    for (let i = 0; i < 40; i++) {
      h.audit.record({
        actor: 'z',
        actorKind: 'user',
        action: 'push',
        resource: `teamwork/app:${i}`,
        result: 'success',
      });
    }
    h.audit.record({
      actor: 'z',
      actorKind: 'user',
      action: 'member.set',
      resource: 'team',
      result: 'success',
    });
    for (let i = 0; i < 40; i++) {
      h.audit.record({
        actor: 'z',
        actorKind: 'user',
        action: 'push',
        resource: `teamwork/app:${i}`,
        result: 'success',
      });
    }
    const pages = await walk<{ resource: string }>(
      h,
      'projectAdmin',
      '/api/v1/audit?project=team&actor=z&limit=1',
    );
    expect(pages.flat().map((e) => e.resource)).toEqual(['team']);
    const mixed = await walk<{ resource: string }>(h, 'projectAdmin', '/api/v1/audit?project=team&limit=4');
    const resources = mixed.flat().map((e) => e.resource);
    expect(resources).toContain('team');
    expect(resources.filter((r) => r.startsWith('team/'))).toHaveLength(14);
    expect(resources.every((r) => r === 'team' || r.startsWith('team/'))).toBe(true);
  });
});
