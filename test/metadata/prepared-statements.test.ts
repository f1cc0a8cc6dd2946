// Named prepared statements on PostgreSQL (src/metadata/prepared-statements.ts): a statement marked PREPARED is
// parsed once per connection and reused; an unmarked one is not kept. Checked in pg_prepared_statements, on a
// pool of one connection so that every query of the test runs on the same one.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MetadataDatabase, openDatabase } from '../../src/metadata/index.js';
import { PREPARED, preparedQuery } from '../../src/metadata/prepared-statements.js';
import { createTestDatabase, dropTestDatabase, postgresAvailable } from '../helpers/postgres.js';

describe('preparedQuery', () => {
  it('names a marked text by its content, and leaves anything else as it is', () => {
    const text = `${PREPARED} select $1::int`;
    const [named] = preparedQuery([text, [1]]) as [{ name: string; text: string; values: unknown[] }];
    expect(named).toEqual({ name: expect.stringMatching(/^berth_[0-9a-f]{32}$/), text, values: [1] });
    expect((preparedQuery([text, [2]])[0] as { name: string }).name).toBe(named.name);
    expect((preparedQuery([`${text} + 1`, [2]])[0] as { name: string }).name).not.toBe(named.name);
    const plain = ['select $1::int', [1]];
    expect(preparedQuery(plain)).toBe(plain);
    const config = { text: 'select 1' };
    expect(preparedQuery([config])).toEqual([config]);
  });
});

describe.skipIf(!postgresAvailable)('prepared statements on PostgreSQL', () => {
  let url: string;
  let database: MetadataDatabase;

  beforeAll(async () => {
    url = await createTestDatabase();
    database = await openDatabase(url, { poolSize: 1 });
  });
  afterAll(async () => {
    await database?.db.destroy();
    if (url) await dropTestDatabase(url);
  });

  const prepared = async () =>
    (
      await sql<{
        name: string;
        statement: string;
      }>`select name, statement from pg_prepared_statements`.execute(database.db)
    ).rows;

  it('runs a marked statement as one named prepared statement, with each execution its own values', async () => {
    const before = (await prepared()).length;
    const answers: number[] = [];
    for (let i = 0; i < 8; i++) {
      const { rows } = await sql<{ n: number }>`${sql.raw(PREPARED)} select ${i}::int + 1 as n`.execute(
        database.db,
      );
      answers.push(rows[0]?.n as number);
    }
    expect(answers).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    await sql`select ${1}::int as unmarked`.execute(database.db);
    const after = await prepared();
    expect(after).toHaveLength(before + 1);
    expect(after.filter((row) => row.statement.startsWith(PREPARED))).toEqual([
      { name: expect.stringMatching(/^berth_/), statement: `${PREPARED} select $1::int + 1 as n` },
    ]);
  });
});
