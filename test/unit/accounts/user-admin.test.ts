// The console's user administration in the account core, on SQLite and PostgreSQL: searching users (a literal
// substring of the username or e-mail address, whatever LIKE would make of `%`, `_` and `\`), and deleting one
// (memberships, tokens and sessions gone, a later user of the same name inheriting nothing, the last enabled
// administrator kept).
import type { Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { AccountService } from '../../../src/accounts/index.js';
import type { Database } from '../../../src/metadata/index.js';
import { BACKENDS, errorCode, freshAccountsPerTest } from './backends.js';

const PASSWORD = 'correct horse';

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`user administration on ${backend.name}`, () => {
    let db: Kysely<Database>;
    let accounts: AccountService;
    const changed: string[] = [];

    freshAccountsPerTest(
      backend,
      async (fresh) => {
        ({ db, accounts } = fresh);
        changed.length = 0;
        await accounts.bootstrap(PASSWORD);
      },
      () => ({ onProjectChanged: (project) => changed.push(project) }),
    );

    const names = async (search: string, limit = 100) =>
      (await accounts.listUsers({ limit, search })).items.map((user) => user.username);

    it('finds users whose username or e-mail address contains the search, case-insensitively', async () => {
      await accounts.createUser({ username: 'dana', password: PASSWORD, email: 'Dana@Example.com' });
      await accounts.createUser({ username: 'daniel', password: PASSWORD });
      await accounts.createUser({ username: 'eve', password: PASSWORD, email: 'eve@other.org' });
      expect(await names('dan')).toEqual(['dana', 'daniel']);
      expect(await names('DAN')).toEqual(['dana', 'daniel']);
      expect(await names('example.COM')).toEqual(['dana']);
      expect(await names('nobody')).toEqual([]);
      // Paging carries the search over.
      const first = await accounts.listUsers({ limit: 1, search: 'dan' });
      expect(first.items.map((user) => user.username)).toEqual(['dana']);
      const second = await accounts.listUsers({ limit: 1, search: 'dan', cursor: first.next as string });
      expect(second.items.map((user) => user.username)).toEqual(['daniel']);
      expect(second.next).toBeUndefined();
    });

    it('takes the search literally: % _ and \\ match only themselves', async () => {
      await accounts.createUser({ username: 'a_b', password: PASSWORD });
      await accounts.createUser({ username: 'axb', password: PASSWORD, email: 'x%y\\z@example.com' });
      expect(await names('_')).toEqual(['a_b']);
      expect(await names('a_b')).toEqual(['a_b']);
      expect(await names('%')).toEqual(['axb']);
      expect(await names('\\')).toEqual(['axb']);
      expect(await names('%%')).toEqual([]);
    });

    it('deletes a user with their memberships, tokens and sessions; the name comes back with nothing', async () => {
      await accounts.createUser({ username: 'dana', password: PASSWORD });
      await accounts.createProject({ name: 'team' });
      await accounts.createProject({ name: 'ops' });
      await accounts.setMember('team', { kind: 'user', name: 'dana', role: 'developer' });
      await accounts.setMember('ops', { kind: 'user', name: 'dana', role: 'guest' });
      await accounts.setMember('ops', { kind: 'group', name: 'dana', role: 'maintainer' });
      const { secret } = await accounts.createAccessToken({ username: 'dana', name: 'ci' });
      await accounts.openSession({
        id: 's1',
        subject: 'dana',
        expiresAt: Date.UTC(2030, 0, 1),
        clientId: 'x',
      });
      expect(await accounts.authenticate('dana', secret)).not.toBeNull();
      changed.length = 0;

      await accounts.deleteUser('dana');
      expect(await errorCode(accounts.getUser('dana'))).toBe('NOT_FOUND');
      expect(await accounts.authenticate('dana', secret)).toBeNull();
      expect(await accounts.authenticate('dana', PASSWORD)).toBeNull();
      expect(await accounts.listMembers('team')).toEqual([]);
      // A group that happens to have the same name is another member: it stays.
      expect(await accounts.listMembers('ops')).toEqual([
        { kind: 'group', name: 'dana', role: 'maintainer' },
      ]);
      expect(changed.sort()).toEqual(['ops', 'team']);
      expect(await db.selectFrom('access_tokens').selectAll().execute()).toEqual([]);
      expect(await db.selectFrom('refresh_tokens').selectAll().execute()).toEqual([]);

      await accounts.createUser({ username: 'dana', password: 'another password' });
      expect(await accounts.listMembers('team')).toEqual([]);
      expect(await accounts.listAccessTokens('dana')).toEqual([]);
      expect(await errorCode(accounts.deleteUser('nobody'))).toBe('NOT_FOUND');
    });

    it('keeps the last enabled system administrator', async () => {
      expect(await errorCode(accounts.deleteUser('admin'))).toBe('CONFLICT');
      await accounts.createUser({ username: 'root', password: PASSWORD, systemAdmin: true });
      await accounts.updateUser('root', { disabled: true });
      expect(await errorCode(accounts.deleteUser('admin'))).toBe('CONFLICT');
      await accounts.updateUser('root', { disabled: false });
      await accounts.deleteUser('admin');
      expect(await errorCode(accounts.deleteUser('root'))).toBe('CONFLICT');
      expect((await accounts.getUser('root')).systemAdmin).toBe(true);
    });
  });
}
