// The two metadata engines the account tests run on: a fresh SQLite file in a temp dir, and a fresh PostgreSQL
// database (skipped loudly by test/helpers/postgres.ts when no server answers, and failing under CI).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { AccountError, AccountService, type AccountServiceOptions } from '../../../src/accounts/index.js';
import { type Database, openDatabase } from '../../../src/metadata/index.js';
import { createTestDatabase, dropTestDatabase, postgresAvailable } from '../../helpers/postgres.js';

export interface OpenedBackend {
  db: Kysely<Database>;
  close(): Promise<void>;
}

export interface Backend {
  name: 'sqlite' | 'postgres';
  available: boolean;
  open(): Promise<OpenedBackend>;
}

export const BACKENDS: Backend[] = [
  {
    name: 'sqlite',
    available: true,
    async open() {
      const dir = await mkdtemp(join(tmpdir(), 'berth-accounts-'));
      const { db } = await openDatabase(`sqlite:${join(dir, 'berth.db')}`);
      return {
        db,
        async close() {
          await db.destroy();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'postgres',
    available: postgresAvailable,
    async open() {
      const url = await createTestDatabase();
      const { db } = await openDatabase(url, { poolSize: 4 });
      return {
        db,
        async close() {
          await db.destroy();
          await dropTestDatabase(url);
        },
      };
    },
  },
];

/** scrypt at its cheapest: the tests check behaviour, not cost. */
export const CHEAP_SCRYPT = { N: 16, r: 1, p: 1 };

/** Empties the account tables (and repositories) between tests. */
export async function resetAccounts(db: Kysely<Database>): Promise<void> {
  for (const table of ['access_tokens', 'robots', 'project_members', 'projects', 'users'] as const) {
    await db.deleteFrom(table).execute();
  }
  await db.deleteFrom('repositories').execute();
}

/** A controllable clock, in milliseconds. */
export class Clock {
  time = Date.UTC(2025, 0, 1);
  readonly now = () => this.time;
  advance(ms: number): void {
    this.time += ms;
  }
}

export function service(
  db: Kysely<Database>,
  clock: Clock,
  options: Omit<AccountServiceOptions, 'now'> = {},
): AccountService {
  return new AccountService(db, { scrypt: CHEAP_SCRYPT, now: clock.now, ...options });
}

/** What each account test starts from: the backend's database, emptied of accounts, a new clock and service. */
export interface FreshAccounts {
  db: Kysely<Database>;
  clock: Clock;
  accounts: AccountService;
}

/**
 * Opens `backend` once for the enclosing describe block (closed after it); before each test empties the account
 * tables and hands `use` a new Clock and an AccountService made with `options()` (read then, per test).
 */
export function freshAccountsPerTest(
  backend: Backend,
  use: (fresh: FreshAccounts) => void | Promise<void>,
  options: () => Omit<AccountServiceOptions, 'now'> = () => ({}),
): void {
  let opened: OpenedBackend | undefined;
  beforeAll(async () => {
    opened = await backend.open();
  });
  afterAll(async () => {
    await opened?.close();
  });
  beforeEach(async () => {
    const db = (opened as OpenedBackend).db;
    await resetAccounts(db);
    const clock = new Clock();
    await use({ db, clock, accounts: service(db, clock, options()) });
  });
}

/** The AccountError code a promise rejects with (fails the test when it resolves or throws something else). */
export async function errorCode(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof AccountError)) throw new Error(`expected an AccountError, got ${String(error)}`);
  return error.code;
}

/** The message of the AccountError a promise rejects with. */
export async function errorMessage(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => (e as Error).message,
  );
}
