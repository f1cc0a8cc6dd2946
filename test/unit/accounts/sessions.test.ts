// Sessions (refresh tokens) and session generations in the store, against SQLite and PostgreSQL: recorded,
// used, expired, revoked, capped per subject, going with their user or robot, and "sign out everywhere"
// raising the generation atomically however many nodes do it at once.
import type { Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import { type AccountService, MAX_SESSIONS } from '../../../src/accounts/index.js';
import type { Database } from '../../../src/metadata/index.js';
import { BACKENDS, type Clock, errorCode, freshAccountsPerTest } from './backends.js';

const PASSWORD = 'correct horse';
const HOUR = 3_600_000;

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`sessions on ${backend.name}`, () => {
    let db: Kysely<Database>;
    let clock: Clock;
    let accounts: AccountService;
    let signedOut: [string, number][];

    freshAccountsPerTest(
      backend,
      async (fresh) => {
        ({ db, clock, accounts } = fresh);
        await db.deleteFrom('refresh_tokens').execute();
        await db.deleteFrom('session_generations').execute();
        signedOut = [];
        await accounts.createUser({ username: 'alice', password: PASSWORD });
        await accounts.createUser({ username: 'bob', password: PASSWORD });
      },
      () => ({ onSignedOut: (subject, generation) => signedOut.push([subject, generation]) }),
    );

    const open = (id: string, subject = 'alice', ttl = HOUR) =>
      accounts.openSession({
        id,
        subject,
        expiresAt: clock.time + ttl,
        clientId: 'docker',
        sourceIp: '192.0.2.1',
      });

    it('a recorded session is usable until it expires, by its own subject only', async () => {
      await open('session-one');
      expect(await accounts.useSession('session-one', 'alice')).toBe(true);
      expect(await accounts.useSession('session-one', 'bob')).toBe(false);
      expect(await accounts.useSession('never-recorded', 'alice')).toBe(false);
      clock.advance(HOUR);
      expect(await accounts.useSession('session-one', 'alice')).toBe(false);
      expect(await accounts.listSessions('alice')).toEqual([]);
    });

    it('records the last use, to the minute', async () => {
      await open('session-used');
      const [fresh] = await accounts.listSessions('alice');
      expect(fresh).toMatchObject({
        id: 'session-used',
        issuedAt: clock.time,
        lastUsedAt: null,
        clientId: 'docker',
      });
      clock.advance(1000);
      await accounts.useSession('session-used', 'alice');
      const firstUse = clock.time;
      clock.advance(30_000);
      await accounts.useSession('session-used', 'alice');
      expect((await accounts.listSessions('alice'))[0]?.lastUsedAt).toBe(firstUse);
      clock.advance(60_000);
      await accounts.useSession('session-used', 'alice');
      expect((await accounts.listSessions('alice'))[0]?.lastUsedAt).toBe(clock.time);
    });

    it('revokes one; another user’s or an unknown one is NOT_FOUND', async () => {
      await open('alice-1');
      await open('bob-1', 'bob');
      await accounts.revokeSession('alice', 'alice-1');
      expect(await accounts.useSession('alice-1', 'alice')).toBe(false);
      expect(await errorCode(accounts.revokeSession('alice', 'bob-1'))).toBe('NOT_FOUND');
      expect(await errorCode(accounts.revokeSession('nobody', 'bob-1'))).toBe('NOT_FOUND');
      expect(await accounts.useSession('bob-1', 'bob')).toBe(true);
    });

    it('sign out everywhere: every session of the user goes, the generation rises, the server is told', async () => {
      await open('alice-a');
      await open('alice-b');
      await open('bob-a', 'bob');
      expect(await accounts.sessionGeneration('alice')).toBe(0);
      expect(await accounts.signOutEverywhere('alice')).toEqual({ revoked: 2, generation: 1 });
      expect(await accounts.signOutEverywhere('alice')).toEqual({ revoked: 0, generation: 2 });
      expect(signedOut).toEqual([
        ['alice', 1],
        ['alice', 2],
      ]);
      expect(await accounts.sessionGeneration('alice')).toBe(2);
      expect(await accounts.sessionGeneration('bob')).toBe(0);
      expect(await accounts.useSession('alice-a', 'alice')).toBe(false);
      expect(await accounts.useSession('bob-a', 'bob')).toBe(true);
      expect(await errorCode(accounts.signOutEverywhere('nobody'))).toBe('NOT_FOUND');
    });

    it('concurrent sign-outs each raise the generation once (no lost update)', async () => {
      const results = await Promise.all(Array.from({ length: 8 }, () => accounts.signOutEverywhere('alice')));
      expect(results.map((r) => r.generation).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(await accounts.sessionGeneration('alice')).toBe(8);
    });

    it(`keeps the ${MAX_SESSIONS} newest sessions of a subject`, async () => {
      for (let i = 0; i <= MAX_SESSIONS; i++) {
        await open(`many-${String(i).padStart(4, '0')}`);
        clock.advance(1);
      }
      const sessions = await accounts.listSessions('alice');
      expect(sessions).toHaveLength(MAX_SESSIONS);
      expect(sessions.map((s) => s.id)).not.toContain('many-0000');
      expect(await accounts.useSession(`many-${String(MAX_SESSIONS).padStart(4, '0')}`, 'alice')).toBe(true);
    });

    it('sessions go with their robot; a subject that does not exist gets none', async () => {
      await accounts.createRobot({
        name: 'ci',
        permissions: [{ project: '*', actions: ['pull'] }],
        createdBy: 'x',
      });
      await open('robot-session', 'robot$ci');
      expect(await accounts.useSession('robot-session', 'robot$ci')).toBe(true);
      await accounts.deleteRobot('ci');
      await accounts.createRobot({
        name: 'ci',
        permissions: [{ project: '*', actions: ['pull'] }],
        createdBy: 'x',
      });
      expect(await accounts.useSession('robot-session', 'robot$ci')).toBe(false);
      expect(await errorCode(open('ghost-session', 'ghost'))).toBe('NOT_FOUND');
    });
  });
}
