// AccountService.authenticate / identityOf against real databases: local passwords, robot secrets, personal
// access tokens. LDAP sign-in is in ldap-sign-in.test.ts.
import type { Kysely } from 'kysely';
import { beforeEach, describe, expect, it } from 'vitest';
import { type AccountService, TOKEN_USE_RESOLUTION_MS } from '../../../src/accounts/index.js';
import { authorize, createSecretToken, type Identity } from '../../../src/auth/index.js';
import type { Database } from '../../../src/metadata/index.js';
import { BACKENDS, type Clock, freshAccountsPerTest, service } from './backends.js';

const PASSWORD = 'correct horse';

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`sign-in on ${backend.name}`, () => {
    let db: Kysely<Database>;
    let clock: Clock;
    let accounts: AccountService;

    freshAccountsPerTest(backend, (fresh) => {
      ({ db, clock, accounts } = fresh);
    });

    describe('local users', () => {
      beforeEach(async () => {
        await accounts.createUser({ username: 'alice', password: PASSWORD });
      });

      it('signs in with the right password only', async () => {
        expect(await accounts.authenticate('alice', PASSWORD)).toEqual({
          kind: 'user',
          username: 'alice',
          systemAdmin: false,
        });
        expect(await accounts.authenticate('alice', `${PASSWORD} `)).toBeNull();
        expect(await accounts.authenticate('alice', '')).toBeNull();
        expect(await accounts.authenticate('Alice', PASSWORD)).toBeNull();
        expect(await accounts.authenticate('nobody', PASSWORD)).toBeNull();
        expect(await accounts.authenticate('alice', 'x'.repeat(5000))).toBeNull();
      });

      it('refuses a disabled user until re-enabled', async () => {
        await accounts.updateUser('alice', { disabled: true });
        expect(await accounts.authenticate('alice', PASSWORD)).toBeNull();
        await accounts.updateUser('alice', { disabled: false });
        expect(await accounts.authenticate('alice', PASSWORD)).not.toBeNull();
      });

      it('reports system administrators', async () => {
        await accounts.createUser({ username: 'root', password: PASSWORD, systemAdmin: true });
        expect(await accounts.authenticate('root', PASSWORD)).toMatchObject({ systemAdmin: true });
      });

      it('rehashes a password made with other scrypt parameters at the next sign-in', async () => {
        const hashOf = async () =>
          (
            await db
              .selectFrom('users')
              .select('password_hash')
              .where('username', '=', 'alice')
              .executeTakeFirst()
          )?.password_hash;
        expect(await hashOf()).toMatch(/^scrypt\$16\$1\$1\$/);
        const stronger = service(db, clock, { scrypt: { N: 32, r: 1, p: 1 } });
        expect(await stronger.authenticate('alice', 'wrong password')).toBeNull();
        expect(await hashOf()).toMatch(/^scrypt\$16\$1\$1\$/);
        expect(await stronger.authenticate('alice', PASSWORD)).not.toBeNull();
        expect(await hashOf()).toMatch(/^scrypt\$32\$1\$1\$/);
        expect(await stronger.authenticate('alice', PASSWORD)).not.toBeNull();
        expect(await accounts.authenticate('alice', PASSWORD)).not.toBeNull();
      });

      it('spends a password check on unknown names too, so timing does not tell which names exist', async () => {
        const costly = service(db, clock, { scrypt: { N: 2 ** 13, r: 8, p: 1 } });
        await costly.createUser({ username: 'carol', password: PASSWORD });
        // CPU time of this process (scrypt runs on its thread pool), not the wall clock: a busy machine
        // stretches waits, not the work done.
        const median = async (username: string) => {
          const times: number[] = [];
          for (let i = 0; i < 5; i++) {
            const started = process.cpuUsage();
            expect(await costly.authenticate(username, 'wrong password')).toBeNull();
            const spent = process.cpuUsage(started);
            times.push(spent.user + spent.system);
          }
          return times.sort((a, b) => a - b)[2] as number;
        };
        await median('nobody'); // warm-up: the dummy hash is made once
        const known = await median('carol');
        const unknown = await median('nobody');
        // Without the dummy check the unknown name costs well under a tenth of the work.
        expect(unknown).toBeGreaterThan(known * 0.4);
      });

      it('does not sign in a robot name or a token-shaped password as a user', async () => {
        expect(await accounts.authenticate('robot$alice', PASSWORD)).toBeNull();
        expect(await accounts.authenticate('alice', createSecretToken().token)).toBeNull();
      });
    });

    describe('robots', () => {
      let secret: string;
      beforeEach(async () => {
        await accounts.createProject({ name: 'team' });
        ({ secret } = await accounts.createRobot({
          name: 'ci',
          permissions: [{ project: 'team', actions: ['pull', 'push'] }],
          createdBy: 'admin',
        }));
      });

      it('signs in as robot$<name> with its secret, with its permissions', async () => {
        expect(secret).toMatch(/^berth_[0-9a-f]{16}_/);
        const identity = await accounts.authenticate('robot$ci', secret);
        expect(identity).toEqual({
          kind: 'robot',
          name: 'robot$ci',
          expiresAt: null,
          permissions: [{ project: 'team', actions: ['pull', 'push'] }],
        });
        const policy = await accounts.projectPolicy('team');
        if (!identity || !policy) throw new Error('expected an identity and a policy');
        expect(authorize({ identity, project: policy, action: 'push' })).toEqual({ allowed: true });
        expect(authorize({ identity, project: policy, action: 'delete' }).allowed).toBe(false);
      });

      it('refuses wrong secrets, other robots, plain passwords and bad names', async () => {
        const other = await accounts.createRobot({
          name: 'other',
          permissions: [{ project: 'team', actions: ['pull'] }],
          createdBy: 'admin',
        });
        expect(await accounts.authenticate('robot$ci', other.secret)).toBeNull();
        expect(await accounts.authenticate('robot$other', secret)).toBeNull();
        const [, id] = /^berth_([0-9a-f]{16})_/.exec(secret) ?? [];
        const sameIdOtherSecret = `berth_${id}_${createSecretToken().token.split('_').slice(2).join('_')}`;
        expect(await accounts.authenticate('robot$ci', sameIdOtherSecret)).toBeNull();
        expect(await accounts.authenticate('robot$ci', 'not-a-token')).toBeNull();
        expect(await accounts.authenticate('robot$', secret)).toBeNull();
        expect(await accounts.authenticate('robot$CI', secret)).toBeNull();
        expect(await accounts.authenticate('ci', secret)).toBeNull();
      });

      it('refuses a disabled robot, and an expired one', async () => {
        await accounts.updateRobot('ci', { disabled: true });
        expect(await accounts.authenticate('robot$ci', secret)).toBeNull();
        expect(await accounts.identityOf('robot$ci')).toBeUndefined();
        await accounts.updateRobot('ci', { disabled: false, expiresAt: clock.time + 1000 });
        expect(await accounts.authenticate('robot$ci', secret)).toMatchObject({
          expiresAt: new Date(clock.time + 1000),
        });
        clock.advance(1000);
        expect(await accounts.authenticate('robot$ci', secret)).toBeNull();
        expect(await accounts.identityOf('robot$ci')).toBeUndefined();
      });

      it('stops taking the old secret once rotated', async () => {
        const rotated = await accounts.rotateRobotSecret('ci');
        expect(rotated).not.toBe(secret);
        expect(await accounts.authenticate('robot$ci', secret)).toBeNull();
        expect(await accounts.authenticate('robot$ci', rotated)).toMatchObject({ name: 'robot$ci' });
      });
    });

    describe('personal access tokens', () => {
      beforeEach(async () => {
        await accounts.createProject({ name: 'team' });
        await accounts.createProject({ name: 'other' });
        await accounts.createUser({ username: 'alice', password: PASSWORD });
        await accounts.createUser({ username: 'bob', password: PASSWORD });
        await accounts.setMember('team', { kind: 'user', name: 'alice', role: 'maintainer' });
        await accounts.setMember('other', { kind: 'user', name: 'alice', role: 'developer' });
      });

      it('signs its user in, narrowed to the token permissions', async () => {
        const { secret } = await accounts.createAccessToken({
          username: 'alice',
          name: 'ci',
          permissions: [{ project: 'team', actions: ['pull'] }],
        });
        const identity = await accounts.authenticate('alice', secret);
        expect(identity).toEqual({
          kind: 'user',
          username: 'alice',
          systemAdmin: false,
          limit: [{ project: 'team', actions: ['pull'] }],
        });
        const team = await accounts.projectPolicy('team');
        const other = await accounts.projectPolicy('other');
        if (!identity || !team || !other) throw new Error('missing');
        expect(authorize({ identity, project: team, action: 'pull' })).toEqual({ allowed: true });
        expect(authorize({ identity, project: team, action: 'push' })).toEqual({
          allowed: false,
          reason: 'forbidden',
        });
        expect(authorize({ identity, project: other, action: 'pull' }).allowed).toBe(false);
      });

      it('gives all of the user rights when the token has no permissions', async () => {
        const { secret } = await accounts.createAccessToken({ username: 'alice', name: 'all' });
        const identity = (await accounts.authenticate('alice', secret)) as Identity;
        expect(identity).toEqual({ kind: 'user', username: 'alice', systemAdmin: false });
      });

      it('belongs to its user only, and must match exactly', async () => {
        const { secret } = await accounts.createAccessToken({ username: 'alice', name: 'ci' });
        expect(await accounts.authenticate('bob', secret)).toBeNull();
        expect(await accounts.authenticate('robot$alice', secret)).toBeNull();
        expect(await accounts.authenticate('alice', `${secret}x`)).toBeNull();
        expect(await accounts.authenticate('alice', createSecretToken().token)).toBeNull();
        expect(await accounts.authenticate('alice', secret)).not.toBeNull();
      });

      it('stops working when expired, revoked, or its user disabled', async () => {
        const { token, secret } = await accounts.createAccessToken({
          username: 'alice',
          name: 'ci',
          expiresAt: clock.time + 10_000,
        });
        expect(await accounts.authenticate('alice', secret)).not.toBeNull();
        await accounts.updateUser('alice', { disabled: true });
        expect(await accounts.authenticate('alice', secret)).toBeNull();
        expect(await accounts.identityOfAccessToken('alice', token.id)).toBeUndefined();
        await accounts.updateUser('alice', { disabled: false });
        expect(await accounts.identityOfAccessToken('alice', token.id)).toEqual({
          kind: 'user',
          username: 'alice',
          systemAdmin: false,
        });
        clock.advance(10_000);
        expect(await accounts.authenticate('alice', secret)).toBeNull();
        expect(await accounts.identityOfAccessToken('alice', token.id)).toBeUndefined();

        const second = await accounts.createAccessToken({ username: 'alice', name: 'second' });
        expect(await accounts.authenticate('alice', second.secret)).not.toBeNull();
        await accounts.revokeAccessToken('alice', second.token.id);
        expect(await accounts.authenticate('alice', second.secret)).toBeNull();
        expect(await accounts.identityOfAccessToken('alice', second.token.id)).toBeUndefined();
      });

      it('keeps the limit when its identity is looked up again by token id', async () => {
        const { token } = await accounts.createAccessToken({
          username: 'alice',
          name: 'ci',
          permissions: [{ project: 'team', actions: ['pull'] }],
        });
        expect(await accounts.identityOfAccessToken('alice', token.id)).toMatchObject({
          limit: [{ project: 'team', actions: ['pull'] }],
        });
        expect(await accounts.identityOfAccessToken('bob', token.id)).toBeUndefined();
      });

      it('records its last use at most once a minute', async () => {
        const { secret } = await accounts.createAccessToken({ username: 'alice', name: 'ci' });
        const lastUsed = async () => (await accounts.listAccessTokens('alice'))[0]?.lastUsedAt;
        expect(await lastUsed()).toBeNull();
        const first = clock.time;
        await accounts.authenticate('alice', secret);
        expect(await lastUsed()).toBe(first);
        clock.advance(TOKEN_USE_RESOLUTION_MS - 1);
        await accounts.authenticate('alice', secret);
        expect(await lastUsed()).toBe(first);
        clock.advance(1);
        await accounts.authenticate('alice', secret);
        expect(await lastUsed()).toBe(clock.time);
        // A failed attempt is no use.
        clock.advance(TOKEN_USE_RESOLUTION_MS);
        await accounts.authenticate('bob', secret);
        expect(await lastUsed()).toBe(clock.time - TOKEN_USE_RESOLUTION_MS);
      });
    });

    describe('identityOf', () => {
      it('gives the identity behind a token subject now', async () => {
        await accounts.createUser({ username: 'alice', password: PASSWORD, systemAdmin: true });
        await accounts.createUser({ username: 'carol', password: PASSWORD });
        await accounts.createRobot({
          name: 'ci',
          permissions: [{ project: '*', actions: ['pull'] }],
          createdBy: 'x',
        });
        expect(await accounts.identityOf('alice')).toEqual({
          kind: 'user',
          username: 'alice',
          systemAdmin: true,
        });
        expect(await accounts.identityOf('robot$ci')).toEqual({
          kind: 'robot',
          name: 'robot$ci',
          expiresAt: null,
          permissions: [{ project: '*', actions: ['pull'] }],
        });
        await accounts.updateUser('carol', { disabled: true });
        expect(await accounts.identityOf('carol')).toBeUndefined();
        expect(await accounts.identityOf('nobody')).toBeUndefined();
        expect(await accounts.identityOf('robot$nobody')).toBeUndefined();
        expect(await accounts.identityOf('ci')).toBeUndefined();
      });
    });
  });
}
