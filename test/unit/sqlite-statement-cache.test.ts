// The SQLite statement cache (metadata/database.ts): statements are kept by text, except those with long
// parameter lists, whose texts rarely come again (garbage collection's batches filled the cache for good).
import SQLite from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withStatementCache } from '../../src/metadata/database.js';

let sqlite: SQLite.Database;

beforeEach(() => {
  sqlite = new SQLite(':memory:');
  sqlite.exec('create table blobs (digest text primary key, size integer)');
});

afterEach(() => {
  sqlite.close();
});

const inList = (n: number) => `select digest from blobs where digest in (${Array(n).fill('?').join(', ')})`;

describe('SQLite statement cache', () => {
  it('keeps a statement by its text', () => {
    const cached = withStatementCache(sqlite);
    const text = 'select size from blobs where digest = ?';
    expect(cached.prepare(text)).toBe(cached.prepare(text));
    expect(cached.prepare(inList(63))).toBe(cached.prepare(inList(63)));
  });

  it('does not keep a statement with 64 parameters or more, which still runs', () => {
    const cached = withStatementCache(sqlite);
    expect(cached.prepare(inList(64))).not.toBe(cached.prepare(inList(64)));
    sqlite.prepare('insert into blobs values (?, ?)').run('sha256:a', 1);
    const digests = Array.from({ length: 300 }, (_, i) => `sha256:${i}`).concat('sha256:a');
    expect(cached.prepare(inList(301)).all(...digests)).toEqual([{ digest: 'sha256:a' }]);
  });

  it('still keeps new short statements after thousands of long ones of distinct lengths', () => {
    const cached = withStatementCache(sqlite);
    for (let n = 64; n < 2064; n++) cached.prepare(inList(n));
    const text = 'select count(*) as n from blobs';
    expect(cached.prepare(text)).toBe(cached.prepare(text));
  });
});
