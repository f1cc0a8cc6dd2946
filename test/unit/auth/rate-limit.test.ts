// Login throttling: the limits and their semantics, the same on every FailureLog (this process's memory, and
// the metadata database on SQLite and PostgreSQL, which workers and nodes share), and that concurrent attempts
// from several processes never get more guesses in than the limit.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addressKey,
  type FailureLog,
  type LoginAttempt,
  type LoginGate,
  LoginThrottle,
  type LoginThrottleOptions,
  MemoryFailureLog,
  PENDING_TIMEOUT_MS,
} from '../../../src/auth/index.js';
import { type Database, DatabaseFailureLog, openDatabase } from '../../../src/metadata/index.js';
import { createTestDatabase, dropTestDatabase, postgresAvailable } from '../../helpers/postgres.js';

function databaseLogs(first: Kysely<Database>, second: Kysely<Database>, remove: () => Promise<void>) {
  return {
    logs: [new DatabaseFailureLog(first), new DatabaseFailureLog(second)] as [FailureLog, FailureLog],
    async rows() {
      const row = await first
        .selectFrom('login_failures')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
    async close() {
      if (second !== first) await second.destroy();
      await first.destroy();
      await remove();
    },
  };
}

function clock(start = 1_000_000_000) {
  const state = { now: start };
  return { state, now: () => state.now, advance: (seconds: number) => (state.now += seconds * 1000) };
}
type Clock = ReturnType<typeof clock>;

/** An attempt whose credentials turn out wrong; answers what the throttle said. */
async function fail(throttle: LoginThrottle, attempt: LoginAttempt): Promise<LoginGate> {
  const gate = await throttle.begin(attempt);
  if (gate.allowed) await gate.ticket.failed();
  return gate;
}

/** What begin() answers, without the ticket (the attempt is then left pending: use `fail` to settle it). */
function verdict(gate: LoginGate) {
  return gate.allowed ? { allowed: true } : gate;
}

interface LogUnderTest {
  name: string;
  available: boolean;
  /** Two FailureLogs on the same store (two processes, for the database ones), and how to end them. */
  open(): Promise<{ logs: [FailureLog, FailureLog]; close(): Promise<void>; rows?(): Promise<number> }>;
}

const LOGS: LogUnderTest[] = [
  {
    name: 'memory',
    available: true,
    async open() {
      const log = new MemoryFailureLog();
      return { logs: [log, log], close: async () => {} };
    },
  },
  {
    name: 'sqlite',
    available: true,
    async open() {
      const dir = await mkdtemp(join(tmpdir(), 'berth-throttle-'));
      // One connection: better-sqlite3 waits for a lock synchronously, so a second connection in this same
      // process would block the first one's commit. Workers on one file are test/cluster/login-throttle.test.ts.
      const { db } = await openDatabase(`sqlite:${join(dir, 'berth.db')}`);
      return databaseLogs(db, db, async () => {
        await rm(dir, { recursive: true, force: true });
      });
    },
  },
  {
    name: 'postgres',
    available: postgresAvailable,
    async open() {
      const url = await createTestDatabase();
      // Two pools on one database, as two nodes have.
      const first = await openDatabase(url, { poolSize: 4 });
      const second = await openDatabase(url, { poolSize: 4, migrate: false });
      return databaseLogs(first.db, second.db, () => dropTestDatabase(url));
    },
  },
];

describe('addressKey', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::ffff:c000:201', '192.0.2.1'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:ffff::1', '2001:db8:1:2::/64'],
    ['2001:DB8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['not-an-ip', 'not-an-ip'],
  ])('%s counts as %s', (ip, key) => {
    expect(addressKey(ip)).toBe(key);
  });
});

describe('LoginThrottle options', () => {
  it('validates the limits', () => {
    expect(() => new LoginThrottle({ account: { maxFailures: 0, windowSeconds: 60 } })).toThrow(RangeError);
    expect(() => new LoginThrottle({ account: { maxFailures: 1.5, windowSeconds: 60 } })).toThrow(RangeError);
    expect(() => new LoginThrottle({ address: { maxFailures: 3, windowSeconds: 0 } })).toThrow(RangeError);
  });

  it('keeps memory bounded: the least recently used keys are forgotten', async () => {
    const throttle = new LoginThrottle({
      log: new MemoryFailureLog({ maxKeys: 100 }),
      account: { maxFailures: 1, windowSeconds: 60 },
    });
    await fail(throttle, { username: 'first', ip: '192.0.2.1' });
    for (let i = 0; i < 100; i++) await fail(throttle, { username: `flood-${i}`, ip: `198.51.100.${i}` });
    expect((await fail(throttle, { username: 'first', ip: '203.0.113.1' })).allowed).toBe(true);
    expect((await fail(throttle, { username: 'flood-99', ip: '203.0.113.2' })).allowed).toBe(false);
  });
});

for (const under of LOGS) {
  describe.skipIf(!under.available)(`LoginThrottle over ${under.name}`, () => {
    let opened: Awaited<ReturnType<LogUnderTest['open']>>;
    let run = 0;
    beforeAll(async () => {
      opened = await under.open();
    });
    afterAll(() => opened?.close());

    /** A throttle on log `which`, its keys prefixed so that tests do not share counts. */
    function throttle(time: Clock, options: Partial<LoginThrottleOptions> = {}, which: 0 | 1 = 0) {
      return new LoginThrottle({
        account: { maxFailures: 3, windowSeconds: 60 },
        address: { maxFailures: 5, windowSeconds: 120 },
        log: opened.logs[which],
        now: time.now,
        ...options,
      });
    }
    /** Names unique to the test, so that tests on one database do not see each other's failures. */
    const fresh = () => {
      run++;
      return { user: (name: string) => `${name}-${run}`, ip: (n: number) => `10.${run}.0.${n}` };
    };

    it('allows maxFailures failures, then refuses with the time until the oldest leaves the window', async () => {
      const time = clock();
      const t = throttle(time, { address: { maxFailures: 100, windowSeconds: 60 } });
      const n = fresh();
      const alice = { username: n.user('alice'), ip: n.ip(1) };
      for (let i = 0; i < 3; i++) {
        expect((await fail(t, alice)).allowed).toBe(true);
        time.advance(10);
      }
      // Failures at t=0, 10, 20; now t=30: the first leaves the window at t=60.
      expect(verdict(await t.begin(alice))).toEqual({ allowed: false, retryAfterSeconds: 30 });
      time.advance(29);
      expect(verdict(await t.begin(alice))).toEqual({ allowed: false, retryAfterSeconds: 1 });
      time.advance(1);
      expect((await fail(t, alice)).allowed).toBe(true);
      // Slides: the failures at t=10 and 20 still count with the one just made.
      expect(verdict(await t.begin(alice))).toEqual({ allowed: false, retryAfterSeconds: 10 });
    });

    it('limits one account guessed from many addresses, counting usernames case-insensitively', async () => {
      const time = clock();
      const t = throttle(time);
      const n = fresh();
      for (const [i, name] of ['Alice', 'ALICE', 'alice'].entries()) {
        await fail(t, { username: n.user(name), ip: n.ip(i) });
      }
      expect(verdict(await t.begin({ username: n.user('aLiCe'), ip: n.ip(9) }))).toEqual({
        allowed: false,
        retryAfterSeconds: 60,
      });
      expect((await fail(t, { username: n.user('bob'), ip: n.ip(9) })).allowed).toBe(true);
    });

    it('limits one address trying many accounts, across an IPv6 /64', async () => {
      const time = clock();
      const t = throttle(time);
      const n = fresh();
      const prefix = `2001:db8:${run}:2`;
      for (let i = 0; i < 5; i++) await fail(t, { username: n.user(`user${i}`), ip: `${prefix}::${i + 1}` });
      expect(verdict(await t.begin({ username: n.user('x'), ip: `${prefix}:abcd::1` }))).toEqual({
        allowed: false,
        retryAfterSeconds: 120,
      });
      expect((await fail(t, { username: n.user('x'), ip: `2001:db8:${run}:3::1` })).allowed).toBe(true);
    });

    it('answers with the longer wait when both limits are hit', async () => {
      const time = clock();
      const t = throttle(time, { account: { maxFailures: 5, windowSeconds: 60 } });
      const n = fresh();
      const attempt = { username: n.user('alice'), ip: n.ip(1) };
      for (let i = 0; i < 5; i++) await fail(t, attempt);
      expect(verdict(await t.begin(attempt))).toEqual({ allowed: false, retryAfterSeconds: 120 });
    });

    it('a success clears the account count but not the address count', async () => {
      const time = clock();
      const t = throttle(time);
      const n = fresh();
      for (let i = 0; i < 2; i++) await fail(t, { username: n.user('victim'), ip: n.ip(1) });
      const right = await t.begin({ username: n.user('victim'), ip: n.ip(1) });
      if (!right.allowed) throw new Error('refused');
      await right.ticket.succeeded();
      // The account's two failures are gone: three more fit.
      for (let i = 0; i < 3; i++) {
        expect((await fail(t, { username: n.user('victim'), ip: n.ip(2 + i) })).allowed).toBe(true);
      }
      // The address's two are not: three more failures from it (5), and it is refused.
      for (let i = 0; i < 3; i++) await fail(t, { username: n.user(`other${i}`), ip: n.ip(1) });
      const own = await t.begin({ username: n.user('attacker-own-account'), ip: n.ip(1) });
      expect(own.allowed).toBe(false);
    });

    it('an attempt without a verdict (identity provider down) does not count', async () => {
      const time = clock();
      const t = throttle(time);
      const n = fresh();
      const attempt = { username: n.user('alice'), ip: n.ip(1) };
      for (let i = 0; i < 10; i++) {
        const gate = await t.begin(attempt);
        if (!gate.allowed) throw new Error(`refused at ${i}`);
        await gate.ticket.abandoned();
      }
      expect((await fail(t, attempt)).allowed).toBe(true);
    });

    it('a burst of right logins goes through: attempts wait for pending ones instead of being refused', async () => {
      const time = clock();
      // A wait far longer than this test takes, however busy the machine: the fourth must not give up early.
      const t = throttle(time, { busyWaitMs: 120_000 });
      const n = fresh();
      const attempt = { username: n.user('busy'), ip: n.ip(1) };
      const held = [];
      for (let i = 0; i < 3; i++) held.push(await t.begin(attempt));
      let settled = false;
      const waiting = t.begin(attempt).then((gate) => {
        settled = true;
        return gate;
      });
      // Nothing frees a slot yet: the fourth waits (polling), it is not refused.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(settled).toBe(false);
      const first = held[0] as LoginGate;
      if (!first.allowed) throw new Error('refused');
      await first.ticket.succeeded();
      const fourth = await waiting;
      expect(fourth.allowed).toBe(true);
      if (fourth.allowed) await fourth.ticket.succeeded();
    });

    it('refuses (Retry-After 1) when pending attempts keep the slots past the wait', async () => {
      const time = clock();
      const t = throttle(time, { busyWaitMs: 30 });
      const n = fresh();
      const attempt = { username: n.user('stuck'), ip: n.ip(1) };
      for (let i = 0; i < 3; i++) expect((await t.begin(attempt)).allowed).toBe(true);
      expect(verdict(await t.begin(attempt))).toEqual({ allowed: false, retryAfterSeconds: 1 });
      // A pending attempt whose process died counts as a failure once it is old enough.
      time.state.now += PENDING_TIMEOUT_MS;
      expect(verdict(await t.begin(attempt))).toEqual({ allowed: false, retryAfterSeconds: 30 });
    });

    it('unguessable credentials (secrets, tokens): counted when wrong, refused at the limit, never waiting, never clearing', async () => {
      const time = clock();
      const t = throttle(time);
      const n = fresh();
      const attempt = { username: n.user('robotish'), ip: n.ip(1) };
      // Two password failures, then a right token: the account's failures stay.
      for (let i = 0; i < 2; i++) await fail(t, attempt);
      const right = await t.begin(attempt, { guessable: false });
      if (!right.allowed) throw new Error('refused');
      await right.ticket.succeeded();
      // A password attempt pending: a token check does not wait for it.
      const pending = await t.begin(attempt);
      expect(pending.allowed).toBe(true);
      const wrong = await t.begin(attempt, { guessable: false });
      if (!wrong.allowed) throw new Error('refused');
      await wrong.ticket.failed();
      if (pending.allowed) await pending.ticket.failed();
      // 2 + 1 + 1 failures ≥ 3: refused, tokens and passwords alike.
      expect((await t.begin(attempt, { guessable: false })).allowed).toBe(false);
      expect((await t.begin(attempt)).allowed).toBe(false);
    });

    it('concurrent wrong attempts through two processes get exactly maxFailures guesses in', async () => {
      const time = clock();
      const n = fresh();
      const throttles = [throttle(time, {}, 0), throttle(time, {}, 1)];
      const gates = await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          fail(throttles[i % 2] as LoginThrottle, { username: n.user('target'), ip: n.ip(i) }),
        ),
      );
      expect(gates.filter((gate) => gate.allowed)).toHaveLength(3);
      expect(gates.filter((gate) => !gate.allowed)).toHaveLength(21);
    });

    // Only the database logs keep rows to prune (the memory log is an LRU); not a skip, just not defined.
    if (under.name === 'memory') return;
    it('prunes rows once they left every window', async () => {
      const time = clock(2_000_000_000);
      const t = throttle(time);
      const n = fresh();
      await fail(t, { username: n.user('old'), ip: n.ip(1) });
      const before = await (opened.rows as () => Promise<number>)();
      expect(before).toBeGreaterThanOrEqual(2);
      // Past the longest window (and the once-a-minute pruning interval): any attempt prunes the lot.
      time.advance(3600);
      await fail(t, { username: n.user('new'), ip: n.ip(2) });
      expect(await (opened.rows as () => Promise<number>)()).toBe(2);
    });
  });
}
