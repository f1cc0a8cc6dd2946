// Users and the first start, against real databases.
import type { Kysely } from 'kysely';
import { beforeEach, describe, expect, it } from 'vitest';
import { type AccountService, MAX_PAGE } from '../../../src/accounts/index.js';
import { createSecretToken } from '../../../src/auth/index.js';
import type { Database } from '../../../src/metadata/index.js';
import { BACKENDS, type Clock, errorCode, errorMessage, freshAccountsPerTest, service } from './backends.js';

const PASSWORD = 'correct horse';

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`users on ${backend.name}`, () => {
    let db: Kysely<Database>;
    let clock: Clock;
    let accounts: AccountService;

    freshAccountsPerTest(backend, (fresh) => {
      ({ db, clock, accounts } = fresh);
    });

    describe('bootstrap', () => {
      it('creates admin with a generated password, and the public project library', async () => {
        const created = await accounts.bootstrap();
        expect(created).toMatchObject({ username: 'admin', generated: true });
        expect(created?.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
        expect(await accounts.authenticate('admin', created?.password ?? '')).toEqual({
          kind: 'user',
          username: 'admin',
          systemAdmin: true,
        });
        expect(await accounts.getProject('library')).toMatchObject({ name: 'library', public: true });
        expect(await accounts.bootstrap()).toBeUndefined();
        expect(await accounts.bootstrap('another password')).toBeUndefined();
      });

      it('uses the given password, which must be valid', async () => {
        expect(await errorCode(accounts.bootstrap('short'))).toBe('INVALID');
        expect(await accounts.bootstrap(PASSWORD)).toEqual({
          username: 'admin',
          password: PASSWORD,
          generated: false,
        });
        expect(await accounts.authenticate('admin', PASSWORD)).toMatchObject({ systemAdmin: true });
      });

      it('does nothing once any user exists', async () => {
        await accounts.createUser({ username: 'alice', password: PASSWORD });
        expect(await accounts.bootstrap()).toBeUndefined();
        expect(await errorCode(accounts.getUser('admin'))).toBe('NOT_FOUND');
        expect(await errorCode(accounts.getProject('library'))).toBe('NOT_FOUND');
      });

      it('keeps an existing library project as it is', async () => {
        await accounts.createProject({ name: 'library', public: false });
        expect(await accounts.bootstrap()).toBeDefined();
        expect(await accounts.getProject('library')).toMatchObject({ public: false });
      });

      it('creates one admin when several nodes start at once; the others get undefined', async () => {
        const nodes = Array.from({ length: 6 }, () => service(db, clock));
        const results = await Promise.all(nodes.map((node) => node.bootstrap()));
        const winners = results.filter((result) => result !== undefined);
        expect(winners).toHaveLength(1);
        expect(await accounts.authenticate('admin', winners[0]?.password ?? '')).not.toBeNull();
        expect((await accounts.listUsers({ limit: 10 })).items.map((u) => u.username)).toEqual(['admin']);
      });
    });

    describe('createUser and getUser', () => {
      it('creates a local user', async () => {
        const user = await accounts.createUser({ username: 'alice', password: PASSWORD, email: 'a@x.test' });
        expect(user).toEqual({
          id: expect.any(Number),
          username: 'alice',
          email: 'a@x.test',
          source: 'local',
          systemAdmin: false,
          disabled: false,
          createdAt: clock.time,
        });
        expect(await accounts.getUser('alice')).toEqual(user);
        expect(await errorCode(accounts.getUser('bob'))).toBe('NOT_FOUND');
      });

      it.each(['', 'a', 'Alice', '-bob', '.bob', 'robot$ci', 'has space', 'é', 'a/b', 'a'.repeat(65)])(
        'refuses the username %j',
        async (username) => {
          expect(await errorMessage(accounts.createUser({ username, password: PASSWORD }))).toMatch(
            /invalid username/,
          );
        },
      );

      it.each(['ab', '0x', 'alice.b_c-d', 'a'.repeat(64)])('accepts the username %j', async (username) => {
        expect((await accounts.createUser({ username, password: PASSWORD })).username).toBe(username);
      });

      it('refuses short, overlong and token-shaped passwords, and bad email addresses', async () => {
        const create = (password: string, email?: string) =>
          errorMessage(accounts.createUser({ username: 'alice', password, ...(email ? { email } : {}) }));
        expect(await create('1234567')).toMatch(/at least 8/);
        expect(await create('x'.repeat(1025))).toMatch(/too long/);
        expect(await create(createSecretToken().token)).toMatch(/berth_ token/);
        expect(await create(PASSWORD, 'not an address')).toMatch(/invalid email/);
        expect(await errorCode(accounts.getUser('alice'))).toBe('NOT_FOUND');
        expect((await accounts.createUser({ username: 'alice', password: '12345678' })).username).toBe(
          'alice',
        );
      });

      it('refuses a taken username', async () => {
        await accounts.createUser({ username: 'alice', password: PASSWORD });
        expect(await errorCode(accounts.createUser({ username: 'alice', password: 'other password' }))).toBe(
          'CONFLICT',
        );
        expect(await accounts.authenticate('alice', PASSWORD)).not.toBeNull();
      });
    });

    describe('listUsers', () => {
      it('pages in byte order with opaque cursors', async () => {
        // Byte order: '-' < '.' < digits < '_' < letters; a collation-ordered query would interleave these.
        const names = ['ab', 'a_b', 'a0', 'a.b', 'a-b', 'b1', 'zz'];
        for (const username of names) await accounts.createUser({ username, password: PASSWORD });
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await accounts.listUsers({ limit: 3, ...(cursor ? { cursor } : {}) });
          seen.push(...page.items.map((user) => user.username));
          cursor = page.next;
          pages++;
        } while (cursor);
        expect(seen).toEqual(['a-b', 'a.b', 'a0', 'a_b', 'ab', 'b1', 'zz']);
        expect(pages).toBe(3);
        const exact = await accounts.listUsers({ limit: 7 });
        expect(exact.items).toHaveLength(7);
        expect(exact.next).toBeUndefined();
      });

      it('caps the page at MAX_PAGE and refuses bad limits and cursors', async () => {
        const now = clock.time;
        await db
          .insertInto('users')
          .values(
            Array.from({ length: MAX_PAGE + 1 }, (_, i) => ({
              username: `u${String(i).padStart(5, '0')}`,
              password_hash: null,
              email: null,
              source: 'local',
              system_admin: 0,
              disabled: 0,
              ldap_groups: null,
              created_at: now,
              password_changed_at: now,
            })),
          )
          .execute();
        const page = await accounts.listUsers({ limit: 5000 });
        expect(page.items).toHaveLength(MAX_PAGE);
        expect(page.next).toBeDefined();
        const rest = await accounts.listUsers({ limit: 5000, cursor: page.next });
        expect(rest.items.map((user) => user.username)).toEqual(['u01000']);
        expect(await errorCode(accounts.listUsers({ limit: 0 }))).toBe('INVALID');
        expect(await errorCode(accounts.listUsers({ limit: 1.5 }))).toBe('INVALID');
        expect(await errorCode(accounts.listUsers({ limit: 10, cursor: 'not base64url!' }))).toBe('INVALID');
        expect(await errorCode(accounts.listUsers({ limit: 10, cursor: 'YWJj=' }))).toBe('INVALID');
      });
    });

    describe('setPassword', () => {
      it('replaces the password and records when', async () => {
        await accounts.createUser({ username: 'alice', password: PASSWORD });
        clock.advance(5000);
        await accounts.setPassword('alice', 'new password');
        expect(await accounts.authenticate('alice', PASSWORD)).toBeNull();
        expect(await accounts.authenticate('alice', 'new password')).not.toBeNull();
        const row = await db
          .selectFrom('users')
          .select(['created_at', 'password_changed_at'])
          .where('username', '=', 'alice')
          .executeTakeFirstOrThrow();
        expect(row.password_changed_at).toBe(clock.time);
        expect(row.created_at).toBe(clock.time - 5000);
      });

      it('refuses bad passwords, unknown users and LDAP users', async () => {
        await accounts.createUser({ username: 'alice', password: PASSWORD });
        expect(await errorCode(accounts.setPassword('alice', 'short'))).toBe('INVALID');
        expect(await errorCode(accounts.setPassword('bob', 'new password'))).toBe('NOT_FOUND');
        await db
          .insertInto('users')
          .values({
            username: 'ldapuser',
            password_hash: null,
            email: null,
            source: 'ldap',
            system_admin: 0,
            disabled: 0,
            ldap_groups: '[]',
            created_at: 0,
            password_changed_at: 0,
          })
          .execute();
        expect(await errorMessage(accounts.setPassword('ldapuser', 'new password'))).toMatch(/LDAP/);
        expect(await accounts.authenticate('alice', PASSWORD)).not.toBeNull();
      });
    });

    describe('updateUser', () => {
      beforeEach(async () => {
        await accounts.createUser({ username: 'root', password: PASSWORD, systemAdmin: true });
        await accounts.createUser({ username: 'alice', password: PASSWORD, email: 'a@x.test' });
      });

      it('changes email, admin flag and disabled state', async () => {
        expect(await accounts.updateUser('alice', { email: 'alice@x.test' })).toMatchObject({
          email: 'alice@x.test',
          systemAdmin: false,
        });
        expect(await accounts.updateUser('alice', { systemAdmin: true })).toMatchObject({
          systemAdmin: true,
        });
        expect(await accounts.identityOf('alice')).toMatchObject({ systemAdmin: true });
        expect(await accounts.updateUser('alice', { email: null, disabled: true })).toMatchObject({
          email: null,
          disabled: true,
        });
        expect(await accounts.identityOf('alice')).toBeUndefined();
        expect(await accounts.updateUser('alice', {})).toMatchObject({ username: 'alice', disabled: true });
      });

      it('refuses unknown users and bad email addresses', async () => {
        expect(await errorCode(accounts.updateUser('bob', { disabled: true }))).toBe('NOT_FOUND');
        expect(await errorCode(accounts.updateUser('alice', { email: 'nope' }))).toBe('INVALID');
      });

      it('keeps at least one enabled system administrator', async () => {
        expect(await errorMessage(accounts.updateUser('root', { disabled: true }))).toMatch(
          /last enabled system administrator/,
        );
        expect(await errorCode(accounts.updateUser('root', { systemAdmin: false }))).toBe('CONFLICT');
        expect(await accounts.identityOf('root')).toMatchObject({ systemAdmin: true });
        await accounts.updateUser('alice', { systemAdmin: true });
        expect(await accounts.updateUser('root', { systemAdmin: false })).toMatchObject({
          systemAdmin: false,
        });
        expect(await errorCode(accounts.updateUser('alice', { disabled: true }))).toBe('CONFLICT');
      });

      it('does not count a disabled administrator as the other one', async () => {
        await accounts.updateUser('alice', { systemAdmin: true });
        await accounts.updateUser('alice', { disabled: true });
        expect(await errorCode(accounts.updateUser('root', { disabled: true }))).toBe('CONFLICT');
        // A disabled administrator may be demoted: it changes nothing about who can still administer.
        expect(await accounts.updateUser('alice', { systemAdmin: false })).toMatchObject({
          systemAdmin: false,
        });
      });
    });
  });
}
