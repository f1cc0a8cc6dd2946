import type { Kysely, Migration } from 'kysely';

/**
 * 0015: event-triggered pull policies. `event_secret` authenticates a remote's webhook or notification to
 * POST /api/v1/replication/policies/{id}/events (HMAC-SHA256 of the body, or a bearer secret); sealed with
 * replication.secretKey (replication/secrets.ts); null: the policy takes no events.
 */
export function replicationEventsMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('replication_policies').addColumn('event_secret', 'text').execute();
    },
  };
}
