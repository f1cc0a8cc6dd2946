// Robot accounts and personal access tokens: management, against real databases. Signing in with them is in
// sign-in.test.ts.
import type { Kysely } from 'kysely';
import { beforeEach, describe, expect, it } from 'vitest';
import type { AccountService } from '../../../src/accounts/index.js';
import { type Action, hashToken } from '../../../src/auth/index.js';
import type { Database } from '../../../src/metadata/index.js';
import { BACKENDS, type Clock, errorCode, errorMessage, freshAccountsPerTest } from './backends.js';

const PASSWORD = 'correct horse';

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`robots and access tokens on ${backend.name}`, () => {
    let db: Kysely<Database>;
    let clock: Clock;
    let accounts: AccountService;

    const robot = (name: string, permissions: { project: string; actions: Action[] }[]) =>
      accounts.createRobot({ name, permissions, createdBy: 'admin' });

    freshAccountsPerTest(backend, async (fresh) => {
      ({ db, clock, accounts } = fresh);
      for (const name of ['team', 'a_b', 'axb', 'other']) await accounts.createProject({ name });
    });

    describe('robots', () => {
      it('creates a robot with a secret shown once and stored hashed', async () => {
        const { robot: created, secret } = await accounts.createRobot({
          name: 'ci',
          description: 'builds',
          permissions: [
            { project: 'team', actions: ['push', 'pull', 'push'] },
            { project: 'team', actions: ['delete'] },
            { project: '*', actions: ['pull'] },
          ],
          expiresAt: clock.time + 60_000,
          createdBy: 'alice',
        });
        expect(created).toEqual({
          id: expect.any(Number),
          name: 'ci',
          description: 'builds',
          permissions: [
            { project: 'team', actions: ['pull', 'push', 'delete'] },
            { project: '*', actions: ['pull'] },
          ],
          expiresAt: clock.time + 60_000,
          disabled: false,
          createdBy: 'alice',
          createdAt: clock.time,
        });
        expect(await accounts.getRobot('ci')).toEqual(created);
        const row = await db
          .selectFrom('robots')
          .selectAll()
          .where('name', '=', 'ci')
          .executeTakeFirstOrThrow();
        const [, id, plain] = /^berth_([0-9a-f]{16})_(.+)$/.exec(secret) ?? [];
        expect(row.secret_id).toBe(id);
        expect(row.secret_hash).toBe(hashToken(plain ?? ''));
        expect(JSON.stringify(row)).not.toContain(plain);
        expect(await errorCode(robot('ci', [{ project: 'team', actions: ['pull'] }]))).toBe('CONFLICT');
      });

      it('refuses bad names, actions, projects, expiries and creators', async () => {
        const ok = [{ project: 'team', actions: ['pull'] as Action[] }];
        expect(await errorMessage(robot('robot$ci', ok))).toMatch(/invalid robot name/);
        expect(await errorCode(robot('CI', ok))).toBe('INVALID');
        expect(await errorCode(robot('c', ok))).toBe('INVALID');
        expect(await errorMessage(robot('ci', [{ project: 'team', actions: ['fly' as Action] }]))).toMatch(
          /unknown action "fly"/,
        );
        expect(await errorCode(robot('ci', [{ project: 'team', actions: [] }]))).toBe('INVALID');
        expect(await errorMessage(robot('ci', []))).toMatch(/at least one permission/);
        expect(await errorMessage(robot('ci', [{ project: 'nope', actions: ['pull'] }]))).toMatch(
          /project nope does not exist/,
        );
        expect(await errorCode(robot('ci', [{ project: 'Team/x', actions: ['pull'] }]))).toBe('INVALID');
        const at = (expiresAt: number) =>
          errorMessage(accounts.createRobot({ name: 'ci', permissions: ok, expiresAt, createdBy: 'a' }));
        expect(await at(clock.time)).toMatch(/future/);
        expect(await at(Number.NaN)).toMatch(/milliseconds/);
        expect(await errorCode(accounts.createRobot({ name: 'ci', permissions: ok, createdBy: '' }))).toBe(
          'INVALID',
        );
        expect(
          await errorCode(
            accounts.createRobot({
              name: 'ci',
              permissions: ok,
              createdBy: 'a',
              description: 'd'.repeat(1025),
            }),
          ),
        ).toBe('INVALID');
        expect(await errorCode(accounts.getRobot('ci'))).toBe('NOT_FOUND');
      });

      it('lists robots by name, all or those naming one project', async () => {
        await robot('r1', [{ project: 'team', actions: ['pull'] }]);
        await robot('r2', [{ project: 'axb', actions: ['pull'] }]);
        await robot('r3', [{ project: '*', actions: ['pull'] }]);
        await robot('r4', [
          { project: 'other', actions: ['pull'] },
          { project: 'a_b', actions: ['push'] },
        ]);
        await robot('r5', [{ project: 'team', actions: ['push'] }]);
        const names = async (page: Parameters<AccountService['listRobots']>[0]) => {
          const seen: string[] = [];
          let cursor: string | undefined;
          do {
            const result = await accounts.listRobots({ ...page, ...(cursor ? { cursor } : {}) });
            seen.push(...result.items.map((r) => r.name));
            cursor = result.next;
          } while (cursor);
          return seen;
        };
        expect(await names({ limit: 2 })).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
        expect(await names({ limit: 1, project: 'team' })).toEqual(['r1', 'r5']);
        // `_` is a LIKE wildcard: the robot on `axb` must not show up for `a_b`.
        expect(await names({ limit: 10, project: 'a_b' })).toEqual(['r4']);
        expect(await names({ limit: 10, project: '*' })).toEqual(['r3']);
        expect(await errorCode(accounts.listRobots({ limit: 10, project: 'nope' }))).toBe('NOT_FOUND');
      });

      it('updates permissions, expiry and disabled state', async () => {
        await robot('ci', [{ project: 'team', actions: ['pull'] }]);
        expect(
          await accounts.updateRobot('ci', {
            permissions: [{ project: 'other', actions: ['push'] }],
            expiresAt: clock.time + 5,
            disabled: true,
          }),
        ).toMatchObject({
          permissions: [{ project: 'other', actions: ['push'] }],
          expiresAt: clock.time + 5,
          disabled: true,
        });
        expect(await accounts.updateRobot('ci', { expiresAt: null, disabled: false })).toMatchObject({
          permissions: [{ project: 'other', actions: ['push'] }],
          expiresAt: null,
          disabled: false,
        });
        expect(
          await errorCode(accounts.updateRobot('ci', { permissions: [{ project: 'x', actions: ['pull'] }] })),
        ).toBe('INVALID');
        expect(await errorCode(accounts.updateRobot('ci', { expiresAt: clock.time - 1 }))).toBe('INVALID');
        expect(await errorCode(accounts.updateRobot('nope', { disabled: true }))).toBe('NOT_FOUND');
      });

      it('deletes robots and rotates secrets, NOT_FOUND for unknown names', async () => {
        const { secret } = await robot('ci', [{ project: 'team', actions: ['pull'] }]);
        const rotated = await accounts.rotateRobotSecret('ci');
        expect(rotated).toMatch(/^berth_[0-9a-f]{16}_/);
        expect(rotated.slice(0, 23)).not.toBe(secret.slice(0, 23));
        await accounts.deleteRobot('ci');
        expect(await accounts.authenticate('robot$ci', rotated)).toBeNull();
        expect(await errorCode(accounts.deleteRobot('ci'))).toBe('NOT_FOUND');
        expect(await errorCode(accounts.rotateRobotSecret('ci'))).toBe('NOT_FOUND');
      });
    });

    describe('personal access tokens', () => {
      beforeEach(async () => {
        await accounts.createUser({ username: 'alice', password: PASSWORD });
        await accounts.createUser({ username: 'bob', password: PASSWORD });
      });

      it('creates tokens with a secret shown once, and lists them oldest first', async () => {
        const first = await accounts.createAccessToken({
          username: 'alice',
          name: 'ci pipeline',
          permissions: [{ project: 'team', actions: ['push', 'pull'] }],
          expiresAt: clock.time + 1000,
        });
        expect(first.token).toEqual({
          id: expect.stringMatching(/^[0-9a-f]{16}$/),
          username: 'alice',
          name: 'ci pipeline',
          permissions: [{ project: 'team', actions: ['pull', 'push'] }],
          expiresAt: clock.time + 1000,
          createdAt: clock.time,
          lastUsedAt: null,
        });
        expect(first.secret.startsWith(`berth_${first.token.id}_`)).toBe(true);
        clock.advance(1);
        const second = await accounts.createAccessToken({ username: 'alice', name: 'laptop' });
        expect(second.token.permissions).toBeNull();
        expect(await accounts.listAccessTokens('alice')).toEqual([first.token, second.token]);
        expect(await accounts.listAccessTokens('bob')).toEqual([]);
        const row = await db
          .selectFrom('access_tokens')
          .selectAll()
          .where('id', '=', first.token.id)
          .executeTakeFirstOrThrow();
        const plain = first.secret.slice(`berth_${first.token.id}_`.length);
        expect(row.secret_hash).toBe(hashToken(plain));
        expect(JSON.stringify(row)).not.toContain(plain);
      });

      it('refuses bad names, grants, expiries, duplicates and unknown users', async () => {
        const create = (input: Partial<Parameters<AccountService['createAccessToken']>[0]>) =>
          errorCode(accounts.createAccessToken({ username: 'alice', name: 'ci', ...input }));
        expect(await create({ name: '' })).toBe('INVALID');
        expect(await create({ name: 'tab\there' })).toBe('INVALID');
        expect(await create({ name: 'x'.repeat(101) })).toBe('INVALID');
        expect(await create({ permissions: [] })).toBe('INVALID');
        expect(await create({ permissions: [{ project: 'nope', actions: ['pull'] }] })).toBe('INVALID');
        expect(await create({ permissions: [{ project: 'team', actions: ['sing' as Action] }] })).toBe(
          'INVALID',
        );
        expect(await create({ expiresAt: clock.time })).toBe('INVALID');
        expect(await create({ username: 'carol' })).toBe('NOT_FOUND');
        expect(await accounts.listAccessTokens('alice')).toEqual([]);
        await accounts.createAccessToken({ username: 'alice', name: 'ci' });
        expect(await create({})).toBe('CONFLICT');
        expect((await accounts.createAccessToken({ username: 'bob', name: 'ci' })).token.username).toBe(
          'bob',
        );
        expect(await errorCode(accounts.listAccessTokens('carol'))).toBe('NOT_FOUND');
      });

      it('revokes a token of its own user only', async () => {
        const { token, secret } = await accounts.createAccessToken({ username: 'alice', name: 'ci' });
        expect(await errorCode(accounts.revokeAccessToken('bob', token.id))).toBe('NOT_FOUND');
        expect(await accounts.authenticate('alice', secret)).not.toBeNull();
        expect(await errorCode(accounts.revokeAccessToken('carol', token.id))).toBe('NOT_FOUND');
        await accounts.revokeAccessToken('alice', token.id);
        expect(await accounts.listAccessTokens('alice')).toEqual([]);
        expect(await errorCode(accounts.revokeAccessToken('alice', token.id))).toBe('NOT_FOUND');
      });
    });
  });
}
