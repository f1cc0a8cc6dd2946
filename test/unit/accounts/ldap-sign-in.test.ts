// LDAP sign-in through AccountService, against a real slapd (test/helpers/slapd.ts) and real databases.
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountService } from '../../../src/accounts/index.js';
import { AuthError, authorize, type Identity, type LdapConfig } from '../../../src/auth/index.js';
import type { Database } from '../../../src/metadata/index.js';
import { BASE_DN, findSlapd, LDAP_USERS, type Slapd, startSlapd } from '../../helpers/slapd.js';
import { BACKENDS, type Clock, errorMessage, freshAccountsPerTest, service } from './backends.js';

const slapdAvailable = findSlapd() !== null;
if (!slapdAvailable) {
  console.warn(
    '\n!!! SKIPPING LDAP sign-in tests: slapd is not installed (apt-get install -y slapd ldap-utils) !!!\n',
  );
}

const ALICE = LDAP_USERS.alice.password;
const BOB = LDAP_USERS.bob.password;

describe.skipIf(!slapdAvailable)('LDAP sign-in through AccountService', () => {
  let slapd: Slapd;
  let ldap: LdapConfig;

  beforeAll(async () => {
    slapd = await startSlapd();
    ldap = {
      url: slapd.url,
      bindDN: slapd.bindDN,
      bindPassword: slapd.bindPassword,
      userBase: `ou=people,${BASE_DN}`,
      groupBase: slapd.groupBase,
    };
  });
  afterAll(async () => {
    await slapd?.stop();
  });

  for (const backend of BACKENDS) {
    describe.skipIf(!backend.available)(`on ${backend.name}`, () => {
      let db: Kysely<Database>;
      let clock: Clock;
      let accounts: AccountService;

      const groupsColumn = async (username: string) =>
        (
          await db
            .selectFrom('users')
            .select('ldap_groups')
            .where('username', '=', username)
            .executeTakeFirst()
        )?.ldap_groups;

      freshAccountsPerTest(
        backend,
        (fresh) => {
          ({ db, clock, accounts } = fresh);
        },
        () => ({ ldap }),
      );

      it('signs a directory user in, creating their row with email and groups', async () => {
        const identity = await accounts.authenticate('alice', ALICE);
        expect(identity).toMatchObject({ kind: 'user', username: 'alice', systemAdmin: false });
        expect([...((identity as Identity & { kind: 'user' }).groups ?? [])].sort()).toEqual([
          'admins',
          'devs',
        ]);
        expect(await accounts.getUser('alice')).toMatchObject({
          username: 'alice',
          source: 'ldap',
          email: 'alice@berth.test',
          disabled: false,
        });
        const row = await db
          .selectFrom('users')
          .select('password_hash')
          .where('username', '=', 'alice')
          .executeTakeFirstOrThrow();
        expect(row.password_hash).toBeNull();
        const again = await accounts.identityOf('alice');
        expect([...((again as Identity & { kind: 'user' }).groups ?? [])].sort()).toEqual(['admins', 'devs']);
      });

      it('gives directory groups their project roles', async () => {
        await accounts.createProject({ name: 'team' });
        await accounts.setMember('team', { kind: 'group', name: 'Devs', role: 'developer' });
        const policy = await accounts.projectPolicy('team');
        const alice = await accounts.authenticate('alice', ALICE);
        const bob = await accounts.authenticate('bob', BOB);
        if (!policy || !alice || !bob) throw new Error('missing');
        expect(authorize({ identity: alice, project: policy, action: 'push' })).toEqual({ allowed: true });
        expect(authorize({ identity: bob, project: policy, action: 'pull' })).toEqual({
          allowed: false,
          reason: 'forbidden',
        });
        expect(await accounts.visibleProjects(alice)).toEqual(['team']);
        expect(await accounts.visibleProjects(bob)).toEqual([]);
      });

      it('lets a role be given to a directory user before their first sign-in', async () => {
        await accounts.createProject({ name: 'team' });
        await accounts.setMember('team', { kind: 'user', name: 'bob', role: 'guest' });
        expect(await accounts.listMembers('team')).toEqual([{ kind: 'user', name: 'bob', role: 'guest' }]);
      });

      it('refreshes email and groups at each sign-in', async () => {
        await accounts.authenticate('alice', ALICE);
        await db
          .updateTable('users')
          .set({ ldap_groups: '["stale"]', email: 'old@x.test' })
          .where('username', '=', 'alice')
          .execute();
        expect(await accounts.identityOf('alice')).toMatchObject({ groups: ['stale'] });
        await accounts.authenticate('alice', ALICE);
        expect(JSON.parse((await groupsColumn('alice')) ?? 'null').sort()).toEqual(['admins', 'devs']);
        expect((await accounts.getUser('alice')).email).toBe('alice@berth.test');
      });

      it('answers null for wrong passwords and unknown names, and creates no row for them', async () => {
        expect(await accounts.authenticate('alice', 'wrong')).toBeNull();
        expect(await accounts.authenticate('alice', '')).toBeNull();
        expect(await accounts.authenticate('nobody', ALICE)).toBeNull();
        expect((await accounts.listUsers({ limit: 10 })).items).toEqual([]);
      });

      it('stores the directory spelling of the name', async () => {
        const identity = await accounts.authenticate('ALICE', ALICE);
        expect(identity).toMatchObject({ username: 'alice' });
        expect((await accounts.listUsers({ limit: 10 })).items.map((u) => u.username)).toEqual(['alice']);
      });

      it('never lets the directory sign in as, or take over, a local user', async () => {
        await accounts.createUser({ username: 'bob', password: 'local password' });
        expect(await accounts.authenticate('bob', BOB)).toBeNull();
        expect(await accounts.authenticate('bob', 'local password')).toMatchObject({ username: 'bob' });
        // `BOB` (uppercase) has no local row, so it goes to the directory, whose entry is `bob`: refused.
        expect(await accounts.authenticate('BOB', BOB)).toBeNull();
        expect(await accounts.getUser('bob')).toMatchObject({ source: 'local' });
        expect(await groupsColumn('bob')).toBeNull();
      });

      it('refuses a disabled directory user, and their password cannot be set here', async () => {
        await accounts.authenticate('alice', ALICE);
        await accounts.updateUser('alice', { disabled: true });
        expect(await accounts.authenticate('alice', ALICE)).toBeNull();
        expect(await accounts.identityOf('alice')).toBeUndefined();
        expect(await errorMessage(accounts.setPassword('alice', 'a new password'))).toMatch(/LDAP/);
      });

      it('signs a directory user in with a personal access token, with their last groups', async () => {
        await accounts.authenticate('alice', ALICE);
        const { secret } = await accounts.createAccessToken({ username: 'alice', name: 'ci' });
        const identity = await accounts.authenticate('alice', secret);
        expect([...((identity as Identity & { kind: 'user' }).groups ?? [])].sort()).toEqual([
          'admins',
          'devs',
        ]);
      });

      it('throws when the directory is down (the caller answers 503), but local users still sign in', async () => {
        const down = service(db, clock, { ldap: { ...ldap, url: 'ldap://127.0.0.1:1', timeoutMs: 2000 } });
        await down.createUser({ username: 'carol', password: 'local password' });
        const error = await down.authenticate('alice', ALICE).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(AuthError);
        expect((error as AuthError).code).toBe('LDAP_UNAVAILABLE');
        expect(await down.authenticate('carol', 'local password')).toMatchObject({ username: 'carol' });
      });

      it('without LDAP configured, a directory user cannot sign in', async () => {
        await accounts.authenticate('alice', ALICE);
        const local = service(db, clock);
        expect(await local.authenticate('alice', ALICE)).toBeNull();
        expect(await local.identityOf('alice')).toMatchObject({ username: 'alice' });
      });
    });
  }
});
