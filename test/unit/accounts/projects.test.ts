// Projects, members, policies and visibility, against real databases.
import type { Kysely } from 'kysely';
import { beforeEach, describe, expect, it } from 'vitest';
import type { AccountService } from '../../../src/accounts/index.js';
import { authorize, type Identity, type RobotPermission } from '../../../src/auth/index.js';
import type { Database } from '../../../src/metadata/index.js';
import { BACKENDS, type Clock, errorCode, errorMessage, freshAccountsPerTest } from './backends.js';

const PASSWORD = 'correct horse';

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`projects on ${backend.name}`, () => {
    let db: Kysely<Database>;
    let clock: Clock;
    let accounts: AccountService;

    const addRepositories = (...names: string[]) =>
      db
        .insertInto('repositories')
        .values(names.map((name) => ({ name, created_at: clock.time })))
        .execute();

    freshAccountsPerTest(backend, (fresh) => {
      ({ db, clock, accounts } = fresh);
    });

    describe('createProject, getProject, updateProject', () => {
      it('creates a private project by default, and reads it back', async () => {
        const project = await accounts.createProject({ name: 'team' });
        expect(project).toEqual({
          id: expect.any(Number),
          name: 'team',
          public: false,
          pushAllowlist: null,
          createdAt: clock.time,
        });
        expect(await accounts.getProject('team')).toEqual(project);
        expect(await errorCode(accounts.getProject('nope'))).toBe('NOT_FOUND');
        expect(await errorCode(accounts.createProject({ name: 'team', public: true }))).toBe('CONFLICT');
      });

      it.each(['', 'Team', 'a/b', '-x', 'x-', '_x', 'a..b', 'a___b', 'a b', 'a'.repeat(256)])(
        'refuses the project name %j',
        async (name) => {
          expect(await errorMessage(accounts.createProject({ name }))).toMatch(/invalid project name/);
        },
      );

      it.each(['a', 'a__b', 'a--b', 'a.b', 'a_b', 'team1', 'a'.repeat(255)])(
        'accepts the project name %j',
        async (name) => {
          expect((await accounts.createProject({ name })).name).toBe(name);
        },
      );

      it('validates and stores the push allowlist', async () => {
        const message = await errorMessage(
          accounts.createProject({ name: 'team', pushAllowlist: ['10.0.0.0/8', '10.0.0.0/33'] }),
        );
        expect(message).toMatch(/10\.0\.0\.0\/33/);
        expect(await errorCode(accounts.createProject({ name: 'team', pushAllowlist: ['nope'] }))).toBe(
          'INVALID',
        );
        const project = await accounts.createProject({
          name: 'team',
          pushAllowlist: [' 10.0.0.0/8', '2001:db8::/32 '],
        });
        expect(project.pushAllowlist).toEqual(['10.0.0.0/8', '2001:db8::/32']);
        expect(await accounts.updateProject('team', { public: true })).toMatchObject({
          public: true,
          pushAllowlist: ['10.0.0.0/8', '2001:db8::/32'],
        });
        expect(await accounts.updateProject('team', { pushAllowlist: [] })).toMatchObject({
          pushAllowlist: [],
        });
        expect(await accounts.updateProject('team', { pushAllowlist: null })).toMatchObject({
          pushAllowlist: null,
          public: true,
        });
        expect(await errorCode(accounts.updateProject('team', { pushAllowlist: ['1.2.3.4/x'] }))).toBe(
          'INVALID',
        );
        expect(await errorCode(accounts.updateProject('nope', { public: true }))).toBe('NOT_FOUND');
      });
    });

    describe('listProjects', () => {
      it('pages in byte order', async () => {
        for (const name of ['b', 'ab', 'a_b', 'a0', 'a.b', 'a-b']) await accounts.createProject({ name });
        const first = await accounts.listProjects({ limit: 4 });
        expect(first.items.map((p) => p.name)).toEqual(['a-b', 'a.b', 'a0', 'a_b']);
        const second = await accounts.listProjects({ limit: 4, cursor: first.next });
        expect(second.items.map((p) => p.name)).toEqual(['ab', 'b']);
        expect(second.next).toBeUndefined();
      });

      it('searches names for a literal substring, any case, among the visible, page by page', async () => {
        await accounts.createUser({ username: 'alice', password: PASSWORD });
        for (const name of ['web-app', 'web_app', 'webxapp', 'web.app', 'data']) {
          await accounts.createProject({ name, public: name !== 'webxapp' });
        }
        const names = async (search: string, visibleTo?: Identity) =>
          (await accounts.listProjects({ limit: 10, search, ...(visibleTo && { visibleTo }) })).items.map(
            (p) => p.name,
          );
        expect(await names('app')).toEqual(['web-app', 'web.app', 'web_app', 'webxapp']);
        expect(await names('b_')).toEqual(['web_app']); // `_` is no wildcard
        expect(await names('b%')).toEqual([]); // nor `%`
        expect(await names('WEB-')).toEqual(['web-app']);
        expect(await names('app', { kind: 'user', username: 'alice' })).toEqual([
          'web-app',
          'web.app',
          'web_app',
        ]);
        const first = await accounts.listProjects({ limit: 2, search: 'app' });
        expect(first.items.map((p) => p.name)).toEqual(['web-app', 'web.app']);
        const second = await accounts.listProjects({ limit: 2, search: 'app', cursor: first.next });
        expect(second.items.map((p) => p.name)).toEqual(['web_app', 'webxapp']);
      });

      it('lists only what `visibleTo` may see, page by page', async () => {
        await accounts.createUser({ username: 'alice', password: PASSWORD });
        for (const name of ['a1', 'a2', 'a3', 'p1', 'p2']) {
          await accounts.createProject({ name, public: name.startsWith('p') });
        }
        await accounts.setMember('a1', { kind: 'user', name: 'alice', role: 'guest' });
        await accounts.setMember('a3', { kind: 'group', name: 'devs', role: 'guest' });
        const alice: Identity = { kind: 'user', username: 'alice', groups: ['DEVS'] };
        const first = await accounts.listProjects({ limit: 2, visibleTo: alice });
        expect(first.items.map((p) => p.name)).toEqual(['a1', 'a3']);
        const second = await accounts.listProjects({ limit: 2, visibleTo: alice, cursor: first.next });
        expect(second.items.map((p) => p.name)).toEqual(['p1', 'p2']);
        expect(second.next).toBeUndefined();
        const anonymous = await accounts.listProjects({ limit: 10, visibleTo: { kind: 'anonymous' } });
        expect(anonymous.items.map((p) => p.name)).toEqual(['p1', 'p2']);
        const admin = await accounts.listProjects({
          limit: 10,
          visibleTo: { kind: 'user', username: 'root', systemAdmin: true },
        });
        expect(admin.items).toHaveLength(5);
      });
    });

    describe('members', () => {
      beforeEach(async () => {
        await accounts.createProject({ name: 'team' });
        await accounts.createUser({ username: 'alice', password: PASSWORD });
        await accounts.createUser({ username: 'bob', password: PASSWORD });
      });

      it('adds, changes and removes members; group names fold to lowercase', async () => {
        await accounts.setMember('team', { kind: 'user', name: 'alice', role: 'developer' });
        await accounts.setMember('team', { kind: 'group', name: 'Devs', role: 'guest' });
        await accounts.setMember('team', { kind: 'user', name: 'bob', role: 'guest' });
        await accounts.setMember('team', { kind: 'user', name: 'bob', role: 'projectAdmin' });
        expect(await accounts.listMembers('team')).toEqual([
          { kind: 'user', name: 'alice', role: 'developer' },
          { kind: 'user', name: 'bob', role: 'projectAdmin' },
          { kind: 'group', name: 'devs', role: 'guest' },
        ]);
        await accounts.setMember('team', { kind: 'group', name: 'DEVS', role: 'maintainer' });
        await accounts.removeMember('team', 'user', 'alice');
        expect(await accounts.listMembers('team')).toEqual([
          { kind: 'user', name: 'bob', role: 'projectAdmin' },
          { kind: 'group', name: 'devs', role: 'maintainer' },
        ]);
        await accounts.removeMember('team', 'group', 'Devs');
        expect(await accounts.listMembers('team')).toEqual([
          { kind: 'user', name: 'bob', role: 'projectAdmin' },
        ]);
      });

      it('refuses bad roles, kinds, names, unknown users and unknown projects', async () => {
        const set = (member: Record<string, string>, project = 'team') =>
          errorCode(accounts.setMember(project, member as never));
        expect(await set({ kind: 'user', name: 'alice', role: 'owner' })).toBe('INVALID');
        expect(await set({ kind: 'robot', name: 'ci', role: 'guest' })).toBe('INVALID');
        expect(await set({ kind: 'user', name: 'robot$ci', role: 'guest' })).toBe('INVALID');
        expect(await set({ kind: 'user', name: 'Alice', role: 'guest' })).toBe('INVALID');
        expect(await set({ kind: 'group', name: ' ', role: 'guest' })).toBe('INVALID');
        expect(await set({ kind: 'user', name: 'carol', role: 'guest' })).toBe('NOT_FOUND');
        expect(await set({ kind: 'user', name: 'alice', role: 'guest' }, 'nope')).toBe('NOT_FOUND');
        expect(await accounts.listMembers('team')).toEqual([]);
        expect(await errorCode(accounts.listMembers('nope'))).toBe('NOT_FOUND');
        expect(await errorCode(accounts.removeMember('team', 'user', 'alice'))).toBe('NOT_FOUND');
        expect(await errorCode(accounts.removeMember('nope', 'user', 'alice'))).toBe('NOT_FOUND');
      });

      it('turns members into the policy authorize() decides with', async () => {
        await accounts.updateProject('team', { pushAllowlist: ['10.0.0.0/8'] });
        await accounts.setMember('team', { kind: 'user', name: 'alice', role: 'developer' });
        await accounts.setMember('team', { kind: 'group', name: 'Ops', role: 'maintainer' });
        const policy = await accounts.projectPolicy('team');
        expect(policy).toEqual({
          name: 'team',
          public: false,
          members: expect.arrayContaining([
            { kind: 'user', name: 'alice', role: 'developer' },
            { kind: 'group', name: 'ops', role: 'maintainer' },
          ]),
          pushAllowlist: ['10.0.0.0/8'],
        });
        expect(policy?.members).toHaveLength(2);
        if (!policy) throw new Error('no policy');
        const alice = (await accounts.identityOf('alice')) as Identity;
        const viaGroup: Identity = { kind: 'user', username: 'bob', groups: ['OPS'] };
        expect(authorize({ identity: alice, project: policy, action: 'push', sourceIp: '10.1.1.1' })).toEqual(
          {
            allowed: true,
          },
        );
        expect(
          authorize({ identity: alice, project: policy, action: 'push', sourceIp: '192.0.2.1' }),
        ).toEqual({
          allowed: false,
          reason: 'address-not-allowed',
        });
        expect(
          authorize({ identity: viaGroup, project: policy, action: 'delete', sourceIp: '10.0.0.1' }),
        ).toEqual({ allowed: true });
        expect(await accounts.projectPolicy('nope')).toBeUndefined();
        const empty = await accounts.createProject({ name: 'empty', public: true });
        expect(await accounts.projectPolicy(empty.name)).toEqual({
          name: 'empty',
          public: true,
          members: [],
          pushAllowlist: null,
        });
      });
    });

    describe('visibleProjects', () => {
      beforeEach(async () => {
        await accounts.createUser({ username: 'alice', password: PASSWORD });
        for (const name of ['pub', 'mine', 'ours', 'theirs']) {
          await accounts.createProject({ name, public: name === 'pub' });
        }
        await accounts.setMember('mine', { kind: 'user', name: 'alice', role: 'guest' });
        await accounts.setMember('ours', { kind: 'group', name: 'devs', role: 'developer' });
      });

      const robot = (permissions: RobotPermission[], expiresAt: Date | null = null) =>
        ({ kind: 'robot', name: 'robot$ci', expiresAt, permissions }) as Identity;

      it('shows public projects plus those the user or their groups are members of', async () => {
        expect(await accounts.visibleProjects({ kind: 'anonymous' })).toEqual(['pub']);
        expect(await accounts.visibleProjects({ kind: 'user', username: 'alice' })).toEqual(['mine', 'pub']);
        expect(await accounts.visibleProjects({ kind: 'user', username: 'alice', groups: ['Devs'] })).toEqual(
          ['mine', 'ours', 'pub'],
        );
        expect(await accounts.visibleProjects({ kind: 'user', username: 'bob', groups: ['devs'] })).toEqual([
          'ours',
          'pub',
        ]);
        expect(await accounts.visibleProjects({ kind: 'user', username: 'root', systemAdmin: true })).toBe(
          'all',
        );
      });

      it('narrows a token-limited user to the pull grants of the token', async () => {
        const limited: Identity = {
          kind: 'user',
          username: 'alice',
          groups: ['devs'],
          limit: [
            { project: 'ours', actions: ['pull'] },
            { project: 'theirs', actions: ['pull'] },
            { project: 'mine', actions: ['push'] },
          ],
        };
        expect(await accounts.visibleProjects(limited)).toEqual(['ours', 'pub']);
        const admin: Identity = { ...limited, systemAdmin: true };
        expect(await accounts.visibleProjects(admin)).toEqual(['ours', 'pub', 'theirs']);
        const everything: Identity = { ...admin, limit: [{ project: '*', actions: ['pull'] }] };
        expect(await accounts.visibleProjects(everything)).toBe('all');
        const none: Identity = { kind: 'user', username: 'alice', limit: [] };
        expect(await accounts.visibleProjects(none)).toEqual(['pub']);
      });

      it('shows robots the projects they may pull from', async () => {
        expect(
          await accounts.visibleProjects(
            robot([
              { project: 'theirs', actions: ['pull', 'push'] },
              { project: 'mine', actions: ['push'] },
              { project: 'gone', actions: ['pull'] },
            ]),
          ),
        ).toEqual(['pub', 'theirs']);
        expect(await accounts.visibleProjects(robot([{ project: '*', actions: ['pull'] }]))).toBe('all');
        expect(await accounts.visibleProjects(robot([{ project: '*', actions: ['push'] }]))).toEqual(['pub']);
        const expired = robot([{ project: '*', actions: ['pull'] }], new Date(clock.time));
        expect(await accounts.visibleProjects(expired)).toEqual(['pub']);
      });
    });

    describe('deleteProject', () => {
      it('refuses while repositories live in the project, naming the reason', async () => {
        await accounts.createProject({ name: 'team' });
        await addRepositories('team/app');
        expect(await errorMessage(accounts.deleteProject('team'))).toMatch(/still has repositories/);
        expect(await errorCode(accounts.deleteProject('team'))).toBe('CONFLICT');
        await db.deleteFrom('repositories').execute();
        await accounts.deleteProject('team');
        expect(await errorCode(accounts.getProject('team'))).toBe('NOT_FOUND');
        expect(await errorCode(accounts.deleteProject('team'))).toBe('NOT_FOUND');
      });

      it('is not blocked by repositories of projects that share a prefix, or by top-level names', async () => {
        await accounts.createProject({ name: 'team' });
        await addRepositories('team-a/app', 'team_b/app', 'team0/x', 'teamx', 'team.c/d', 'team');
        await accounts.deleteProject('team');
        expect(await errorCode(accounts.getProject('team'))).toBe('NOT_FOUND');
      });

      it('counts single-segment repositories as the default project library', async () => {
        await accounts.createProject({ name: 'library', public: true });
        await addRepositories('busybox');
        expect(await errorCode(accounts.deleteProject('library'))).toBe('CONFLICT');
      });

      it('removes members, and the project from robot and token grants', async () => {
        await accounts.createUser({ username: 'alice', password: PASSWORD });
        await accounts.createProject({ name: 'team' });
        await accounts.createProject({ name: 'other' });
        await accounts.setMember('team', { kind: 'user', name: 'alice', role: 'developer' });
        const { secret } = await accounts.createRobot({
          name: 'ci',
          permissions: [
            { project: 'team', actions: ['push'] },
            { project: 'other', actions: ['pull'] },
          ],
          createdBy: 'admin',
        });
        await accounts.createRobot({
          name: 'solo',
          permissions: [{ project: 'team', actions: ['pull'] }],
          createdBy: 'x',
        });
        const token = await accounts.createAccessToken({
          username: 'alice',
          name: 'ci',
          permissions: [{ project: 'team', actions: ['pull', 'push'] }],
        });
        await accounts.deleteProject('team');
        expect((await accounts.getRobot('ci')).permissions).toEqual([
          { project: 'other', actions: ['pull'] },
        ]);
        expect((await accounts.getRobot('solo')).permissions).toEqual([]);
        expect((await accounts.listAccessTokens('alice'))[0]?.permissions).toEqual([]);

        // A project created later under the same name inherits nobody's rights.
        await accounts.createProject({ name: 'team' });
        expect(await accounts.listMembers('team')).toEqual([]);
        const policy = await accounts.projectPolicy('team');
        const robotIdentity = await accounts.authenticate('robot$ci', secret);
        const tokenIdentity = await accounts.authenticate('alice', token.secret);
        if (!policy || !robotIdentity || !tokenIdentity) throw new Error('missing');
        expect(authorize({ identity: robotIdentity, project: policy, action: 'push' }).allowed).toBe(false);
        expect(authorize({ identity: tokenIdentity, project: policy, action: 'pull' }).allowed).toBe(false);
      });
    });
  });
}
