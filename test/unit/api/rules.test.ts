// The finer rules behind the matrix: own accounts, robots within administered projects, personal access
// tokens, project creation by users, and what the audit log says (never a secret).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuthorization } from '../../../src/auth/index.js';
import { ADMIN_PASSWORD, type Harness, PASSWORD, startHarness } from './api-harness.js';

const as = (username: string, password: string) => ({
  authorization: basicAuthorization(username, password),
});

describe('/api/v1 rules', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  describe('own account', () => {
    it('lets a user read their own account but nobody else’s', async () => {
      expect((await h.request('user', 'GET', '/api/v1/users/alice')).json()).toMatchObject({
        username: 'alice',
        systemAdmin: false,
      });
      const other = await h.request('user', 'GET', '/api/v1/users/bob');
      expect(other.json().errors[0].message).toBe(
        "reading another user's account needs system administrator rights",
      );
    });

    it('tells who the caller is', async () => {
      expect((await h.request('user', 'GET', '/api/v1/me')).json()).toEqual({
        kind: 'user',
        username: 'alice',
        systemAdmin: false,
        groups: [],
        email: null,
        source: 'local',
        tokenPermissions: null,
        cliSecret: null,
      });
      expect((await h.request('robot', 'GET', '/api/v1/me')).json()).toEqual({
        kind: 'robot',
        name: 'ci',
        login: 'robot$ci',
        permissions: [{ project: 'team', actions: ['pull', 'push'] }],
        expiresAt: null,
      });
      expect((await h.request('systemAdmin', 'GET', '/api/v1/me')).json()).toMatchObject({
        systemAdmin: true,
      });
    });

    it('changes a password only with the current one (not with an access token in its place)', async () => {
      await h.accounts.createUser({ username: 'carol', password: PASSWORD });
      const carol = as('carol', PASSWORD);
      const url = '/api/v1/users/carol/password';
      const missing = await h.request(carol, 'PUT', url, { password: 'another password' });
      expect(missing.statusCode).toBe(403);
      expect(missing.json().errors[0].message).toMatch(/current password/);
      const wrong = await h.request(carol, 'PUT', url, {
        password: 'another password',
        currentPassword: 'nope',
      });
      expect(wrong.statusCode).toBe(403);
      const { secret } = await h.accounts.createAccessToken({ username: 'carol', name: 'laptop' });
      const token = await h.request(carol, 'PUT', url, {
        password: 'another password',
        currentPassword: secret,
      });
      expect(token.statusCode).toBe(403);
      expect(await h.accounts.authenticate('carol', PASSWORD)).not.toBeNull();

      const right = await h.request(carol, 'PUT', url, {
        password: 'another password',
        currentPassword: PASSWORD,
      });
      expect(right.statusCode).toBe(204);
      expect(await h.accounts.authenticate('carol', PASSWORD)).toBeNull();
      expect(await h.accounts.authenticate('carol', 'another password')).toMatchObject({ username: 'carol' });
    });

    it('lets a system administrator disable and re-enable a user', async () => {
      await h.accounts.createUser({ username: 'dave', password: PASSWORD });
      const off = await h.request('systemAdmin', 'PATCH', '/api/v1/users/dave', { disabled: true });
      expect(off.json()).toMatchObject({ username: 'dave', disabled: true });
      expect((await h.request(as('dave', PASSWORD), 'GET', '/api/v1/me')).statusCode).toBe(401);
      await h.request('systemAdmin', 'PATCH', '/api/v1/users/dave', { disabled: false });
      expect((await h.request(as('dave', PASSWORD), 'GET', '/api/v1/me')).statusCode).toBe(200);
    });
  });

  describe('projects and members', () => {
    it('makes a project public, which lets anonymous callers read it', async () => {
      await h.accounts.createProject({ name: 'soon-public' });
      expect((await h.request('anonymous', 'GET', '/api/v1/projects/soon-public')).statusCode).toBe(401);
      const changed = await h.request('systemAdmin', 'PATCH', '/api/v1/projects/soon-public', {
        public: true,
        pushAllowlist: ['10.0.0.0/8'],
      });
      expect(changed.json()).toMatchObject({ public: true, pushAllowlist: ['10.0.0.0/8'] });
      expect((await h.request('anonymous', 'GET', '/api/v1/projects/soon-public')).statusCode).toBe(200);
    });

    it('says which role is missing', async () => {
      await h.accounts.setMember('team', { kind: 'user', name: 'alice', role: 'developer' });
      const response = await h.request('user', 'PUT', '/api/v1/projects/team/members/user/bob', {
        role: 'guest',
      });
      expect(response.statusCode).toBe(403);
      expect(response.json().errors[0].message).toBe(
        "managing a project's members needs the projectAdmin role (members:manage) in project 'team'",
      );
      await h.accounts.removeMember('team', 'user', 'alice');
    });

    it('stores group names lowercase and finds them whatever the case', async () => {
      const set = await h.request('projectAdmin', 'PUT', '/api/v1/projects/team/members/group/Ops-Team', {
        role: 'maintainer',
      });
      expect(set.json()).toEqual({ kind: 'group', name: 'ops-team', role: 'maintainer' });
      const got = await h.request('projectAdmin', 'GET', '/api/v1/projects/team/members/group/OPS-TEAM');
      expect(got.json()).toEqual({ kind: 'group', name: 'ops-team', role: 'maintainer' });
    });

    it('refuses robots as members (they carry their own permissions)', async () => {
      const response = await h.request('projectAdmin', 'PUT', '/api/v1/projects/team/members/user/robot$ci', {
        role: 'guest',
      });
      expect(response.statusCode).toBe(400);
    });
  });

  describe('robots', () => {
    const create = (name: string, permissions: unknown) => ({ name, permissions });

    it('lets a project administrator create a robot on their project; the secret logs it in once shown', async () => {
      const response = await h.request(
        'projectAdmin',
        'POST',
        '/api/v1/robots',
        create('builder', [{ project: 'team', actions: ['pull', 'push'] }]),
      );
      expect(response.statusCode).toBe(201);
      const body = response.json();
      expect(body).toMatchObject({ login: 'robot$builder', robot: { name: 'builder', createdBy: 'padmin' } });
      expect(body.secret).toMatch(/^berth_/);
      expect(await h.accounts.authenticate('robot$builder', body.secret)).toMatchObject({ kind: 'robot' });
      expect((await h.request('projectAdmin', 'GET', '/api/v1/robots/builder')).json()).not.toHaveProperty(
        'secret',
      );

      const rotated = await h.request('projectAdmin', 'POST', '/api/v1/robots/robot$builder/secret');
      expect(rotated.statusCode).toBe(200);
      expect(await h.accounts.authenticate('robot$builder', body.secret)).toBeNull();
      expect(await h.accounts.authenticate('robot$builder', rotated.json().secret)).not.toBeNull();
    });

    it.each([
      ['every project', [{ project: '*', actions: ['pull'] }], /every project \('\*'\)/],
      ['a project it does not administer', [{ project: 'other', actions: ['pull'] }], /in project 'other'/],
      [
        'its project and another',
        [
          { project: 'team', actions: ['pull'] },
          { project: 'other', actions: ['pull'] },
        ],
        /in project 'other'/,
      ],
    ])('refuses a project administrator a robot on %s', async (_label, permissions, message) => {
      const response = await h.request(
        'projectAdmin',
        'POST',
        '/api/v1/robots',
        create('sneaky', permissions),
      );
      expect(response.statusCode).toBe(403);
      expect(response.json().errors[0].message).toMatch(message);
    });

    it('refuses a project administrator widening a robot beyond their projects', async () => {
      await h.accounts.createRobot({
        name: 'narrow',
        permissions: [{ project: 'team', actions: ['pull'] }],
        createdBy: 'x',
      });
      const response = await h.request('projectAdmin', 'PATCH', '/api/v1/robots/narrow', {
        permissions: [{ project: 'other', actions: ['pull'] }],
      });
      expect(response.statusCode).toBe(403);
      expect((await h.accounts.getRobot('narrow')).permissions).toEqual([
        { project: 'team', actions: ['pull'] },
      ]);
    });

    it('refuses a project administrator a robot that also works elsewhere', async () => {
      await h.accounts.createRobot({
        name: 'wide',
        permissions: [
          { project: 'team', actions: ['pull'] },
          { project: 'other', actions: ['pull'] },
        ],
        createdBy: 'admin',
      });
      expect((await h.request('projectAdmin', 'GET', '/api/v1/robots/wide')).statusCode).toBe(200);
      expect((await h.request('projectAdmin', 'DELETE', '/api/v1/robots/wide')).statusCode).toBe(403);
      expect((await h.request('systemAdmin', 'DELETE', '/api/v1/robots/wide')).statusCode).toBe(204);
    });

    it('lets a robot read itself', async () => {
      expect((await h.request('robot', 'GET', '/api/v1/robots/ci')).statusCode).toBe(200);
    });
  });

  describe('personal access tokens', () => {
    it('lets a user create, list and revoke their own; the secret is their password until revoked', async () => {
      const created = await h.request('user', 'POST', '/api/v1/users/alice/tokens', {
        name: 'pipeline',
        permissions: [{ project: 'team', actions: ['pull'] }],
        expiresAt: Date.now() + 86_400_000,
      });
      expect(created.statusCode).toBe(201);
      const { token, secret } = created.json();
      expect(token).toMatchObject({ username: 'alice', name: 'pipeline' });
      const me = await h.request(as('alice', secret), 'GET', '/api/v1/me');
      expect(me.json().tokenPermissions).toEqual([{ project: 'team', actions: ['pull'] }]);
      const listed = await h.request('user', 'GET', '/api/v1/users/alice/tokens');
      expect(listed.json().items.map((t: { id: string }) => t.id)).toContain(token.id);
      expect(listed.body).not.toContain(secret);
      expect((await h.request('user', 'DELETE', `/api/v1/users/alice/tokens/${token.id}`)).statusCode).toBe(
        204,
      );
      expect((await h.request(as('alice', secret), 'GET', '/api/v1/me')).statusCode).toBe(401);
    });

    it('refuses robots tokens, even for themselves', async () => {
      const response = await h.request('robot', 'POST', '/api/v1/users/robot$ci/tokens', { name: 'x' });
      expect(response.statusCode).toBe(403);
      expect(response.json().errors[0].message).toMatch(/robots cannot/);
    });

    it('keeps a token with permissions to project actions: no user or system management through it', async () => {
      const { secret } = await h.accounts.createAccessToken({
        username: 'admin',
        name: 'narrow',
        permissions: [{ project: 'team', actions: ['pull'] }],
      });
      const narrow = as('admin', secret);
      for (const [method, url, body] of [
        ['GET', '/api/v1/users'],
        ['POST', '/api/v1/users', { username: 'mallory', password: PASSWORD }],
        ['POST', '/api/v1/users/admin/tokens', { name: 'wider' }],
        ['GET', '/api/v1/audit'],
        ['POST', '/api/v1/projects', { name: 'mallory' }],
        ['PATCH', '/api/v1/projects/team', { public: true }],
      ] as const) {
        const response = await h.request(narrow, method, url, body);
        expect(response.statusCode, `${method} ${url}`).toBe(403);
      }
      expect((await h.request(narrow, 'GET', '/api/v1/projects/team')).statusCode).toBe(200);
      const unrestricted = await h.accounts.createAccessToken({ username: 'admin', name: 'full' });
      expect((await h.request(as('admin', unrestricted.secret), 'GET', '/api/v1/users')).statusCode).toBe(
        200,
      );
    });
  });

  describe('audit log', () => {
    it('records who changed what, with the changes and never a secret', async () => {
      const before = h.audit.events.length;
      await h.request('systemAdmin', 'POST', '/api/v1/users', {
        username: 'erin',
        password: 'erins secret pw',
        email: 'erin@example.com',
      });
      const robot = await h.request('systemAdmin', 'POST', '/api/v1/robots', {
        name: 'audited',
        permissions: [{ project: 'team', actions: ['pull'] }],
      });
      const token = await h.request('systemAdmin', 'POST', '/api/v1/users/erin/tokens', { name: 'ci' });
      await h.request('systemAdmin', 'PUT', '/api/v1/users/erin/password', { password: 'erins new secret' });
      const events = h.audit.events.slice(before);
      expect(events.map((e) => [e.action, e.resource, e.result])).toEqual([
        ['user.create', 'user:erin', 'success'],
        ['robot.create', 'robot:audited', 'success'],
        ['token.create', 'user:erin', 'success'],
        ['user.password', 'user:erin', 'success'],
      ]);
      expect(JSON.parse(events[0]?.detail ?? '')).toEqual({ email: 'erin@example.com', systemAdmin: false });
      expect(JSON.parse(events[1]?.detail ?? '')).toMatchObject({ permissions: [{ project: 'team' }] });
      const everything = JSON.stringify(h.audit.events);
      for (const secret of [
        'erins secret pw',
        'erins new secret',
        robot.json().secret,
        token.json().secret,
      ]) {
        expect(everything).not.toContain(secret);
      }
    });

    it('records refusals with the reason', async () => {
      await h.request('user', 'DELETE', '/api/v1/projects/team');
      expect(h.audit.last()).toMatchObject({
        actor: 'alice',
        action: 'project.delete',
        resource: 'team',
        result: 'failure',
        detail: 'deleting a project needs system administrator rights',
      });
      await h.request('systemAdmin', 'POST', '/api/v1/users', { username: 'x' });
      expect(h.audit.last()).toMatchObject({ action: 'user.create', resource: 'user:x', result: 'failure' });
      expect(h.audit.last()?.detail).toMatch(/body\.password/);
    });

    it('filters by actor, action, resource prefix and time (ISO 8601 or milliseconds)', async () => {
      const start = Date.now();
      h.audit.record({
        actor: 'f1',
        actorKind: 'user',
        action: 'push',
        resource: 'team/web:1',
        result: 'success',
      });
      h.audit.record({
        actor: 'f1',
        actorKind: 'user',
        action: 'pull',
        resource: 'team/api:1',
        result: 'success',
      });
      h.audit.record({
        actor: 'f2',
        actorKind: 'user',
        action: 'push',
        resource: 'team/web:2',
        result: 'success',
      });
      const query = async (q: string) =>
        (await h.request('systemAdmin', 'GET', `/api/v1/audit?${q}`))
          .json()
          .items.map((e: { actor: string; resource: string }) => `${e.actor} ${e.resource}`);
      expect(await query('actor=f1')).toEqual(['f1 team/api:1', 'f1 team/web:1']);
      expect(await query('action=push&resource=team/web')).toEqual(['f2 team/web:2', 'f1 team/web:1']);
      expect(await query(`actor=f2&from=${new Date(start).toISOString()}`)).toEqual(['f2 team/web:2']);
      expect(await query(`actor=f2&to=${start - 60_000}`)).toEqual([]);
    });

    it('keeps project administrators inside their project', async () => {
      const outside = await h.request('projectAdmin', 'GET', '/api/v1/audit?project=team&resource=other/app');
      expect(outside.statusCode).toBe(403);
      const inside = await h.request('projectAdmin', 'GET', '/api/v1/audit?project=team&resource=team/web');
      expect(inside.statusCode).toBe(200);
      expect(inside.json().items.length).toBeGreaterThan(0);
      const elsewhere = await h.request('projectAdmin', 'GET', '/api/v1/audit?project=other');
      expect(elsewhere.statusCode).toBe(403);
    });

    it('exports JSON lines, newest first, with the same filters', async () => {
      for (let i = 0; i < 2500; i++) {
        h.audit.record({
          actor: 'bulk',
          actorKind: 'robot',
          action: 'pull',
          resource: `team/big:${i}`,
          result: 'success',
        });
      }
      const response = await h.request('systemAdmin', 'GET', '/api/v1/audit/export?actor=bulk');
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^application\/x-ndjson/);
      const lines = response.body
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(lines).toHaveLength(2500);
      expect(lines[0].resource).toBe('team/big:2499');
      expect(lines[2499].resource).toBe('team/big:0');
      const scoped = await h.request('projectAdmin', 'GET', '/api/v1/audit/export?project=team&actor=f1');
      expect(scoped.body.trimEnd().split('\n')).toHaveLength(2);
    });
  });
});

describe('/api/v1 with usersCanCreateProjects', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ usersCanCreateProjects: true });
  });
  afterAll(() => h.close());

  it('lets a user create a project, which they then administer', async () => {
    const created = await h.request('user', 'POST', '/api/v1/projects', { name: 'alices' });
    expect(created.statusCode).toBe(201);
    const members = await h.request('user', 'GET', '/api/v1/projects/alices/members');
    expect(members.json().items).toEqual([{ kind: 'user', name: 'alice', role: 'projectAdmin' }]);
    expect((await h.request('user', 'PATCH', '/api/v1/projects/alices', { public: true })).statusCode).toBe(
      200,
    );
  });

  it('still refuses robots and anonymous callers', async () => {
    expect((await h.request('robot', 'POST', '/api/v1/projects', { name: 'robots' })).statusCode).toBe(403);
    expect((await h.request('anonymous', 'POST', '/api/v1/projects', { name: 'anon' })).statusCode).toBe(401);
  });

  it('still keeps deleting for system administrators', async () => {
    expect((await h.request('user', 'DELETE', '/api/v1/projects/alices')).statusCode).toBe(403);
    expect(
      (
        await h.request(
          { authorization: basicAuthorization('admin', ADMIN_PASSWORD) },
          'DELETE',
          '/api/v1/projects/alices',
        )
      ).statusCode,
    ).toBe(204);
  });
});
