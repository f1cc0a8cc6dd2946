import type { Kysely, Migration } from 'kysely';

/**
 * 0016: the API's artifact listing (newest push first, then digest) as an index range scan. Without it each
 * page sorted every manifest of the repository, so a walk over 100,000 artifacts cost the square of it.
 */
export function listingsMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createIndex('manifests_pushed')
        .on('manifests')
        .columns(['repository_id', 'created_at desc', 'digest'])
        .execute();
    },
  };
}
