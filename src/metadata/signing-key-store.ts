import type { JWK } from 'jose';
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * The token signing key, kept in the metadata database so every node signs and verifies with the same key.
 * The first node to save wins; the others load its key (the primary key makes the race safe).
 */
export function databaseKeyStore(db: Kysely<Database>, name = 'token') {
  const load = async (): Promise<JWK | null> => {
    const row = await db.selectFrom('signing_keys').select('jwk').where('name', '=', name).executeTakeFirst();
    return row ? (JSON.parse(row.jwk) as JWK) : null;
  };
  return {
    load,
    async save(jwk: JWK): Promise<JWK> {
      await db
        .insertInto('signing_keys')
        .values({ name, jwk: JSON.stringify(jwk), created_at: Date.now() })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
      const stored = await load();
      if (!stored) throw new Error('the token signing key vanished while being saved');
      return stored;
    },
  };
}
