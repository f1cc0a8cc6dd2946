// A real metadata database (SQLite in a temp directory) with the registry's and lifecycle's stores on it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccountService } from '../../../src/accounts/index.js';
import { Lifecycle } from '../../../src/lifecycle/index.js';
import { MetadataStore, openDatabase } from '../../../src/metadata/index.js';

export interface Stores {
  meta: MetadataStore;
  lifecycle: Lifecycle;
  accounts: AccountService;
  close(): Promise<void>;
}

export async function openStores(): Promise<Stores> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-lifecycle-'));
  const { db } = await openDatabase(`sqlite:${join(dir, 'berth.db')}`);
  return {
    meta: new MetadataStore(db),
    lifecycle: new Lifecycle(db),
    accounts: new AccountService(db, { scrypt: { N: 2 ** 10, r: 8, p: 1 } }),
    async close() {
      await db.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A digest-shaped name for the n-th test blob. */
export function digestOf(n: number): string {
  return `sha256:${n.toString(16).padStart(64, '0')}`;
}
