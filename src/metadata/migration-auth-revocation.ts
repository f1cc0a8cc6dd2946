import type { Kysely, Migration } from 'kysely';
import type { Dialect } from './migrations.js';

/**
 * 0006: what login throttling and session revocation share across every process of a registry.
 *
 * - `login_failures`: one row per login attempt counted against a throttle key (`account:<name>`,
 *   `address:<ip or /64>`), written (pending) before the credentials are checked, kept when they proved wrong
 *   and removed when they were right. Reservations are serialised per key, so a key never holds more than its
 *   limit of rows inside the window whatever the concurrency; rows older than the window are pruned.
 * - `refresh_tokens`: one row per refresh token handed out (its `jti`), the session a client holds. A refresh
 *   token without its row is refused, so deleting the row revokes it on every node at once.
 * - `session_generations`: per subject, a counter "sign out everywhere" raises. Access tokens carry the
 *   generation they were issued under; older ones are refused.
 */
export function authRevocationMigration(_dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('login_failures')
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('failed_at', 'bigint', (c) => c.notNull())
        /** Tells apart the attempts of one millisecond, and names the rows of one attempt. */
        .addColumn('attempt', 'text', (c) => c.notNull())
        /** 1 while the attempt's credentials are being checked, 0 once they proved wrong. */
        .addColumn('pending', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('login_failures_pk', ['key', 'failed_at', 'attempt'])
        .execute();
      await db.schema
        .createIndex('login_failures_failed_at')
        .on('login_failures')
        .column('failed_at')
        .execute();

      await db.schema
        .createTable('refresh_tokens')
        /** The token's `jti`. */
        .addColumn('id', 'text', (c) => c.primaryKey())
        /** A username or robot$name, as in the token's `sub`. */
        .addColumn('subject', 'text', (c) => c.notNull())
        /** Whose it is: the row goes with the user or robot, so a later account of the same name gets none. */
        .addColumn('user_id', 'bigint', (c) => c.references('users.id').onDelete('cascade'))
        .addColumn('robot_id', 'bigint', (c) => c.references('robots.id').onDelete('cascade'))
        /** OAuth2 client_id the client sent, and its User-Agent, for the owner to recognise the session. */
        .addColumn('client_id', 'text')
        .addColumn('user_agent', 'text')
        .addColumn('source_ip', 'text')
        .addColumn('issued_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at', 'bigint')
        .execute();
      await db.schema
        .createIndex('refresh_tokens_subject')
        .on('refresh_tokens')
        .columns(['subject', 'issued_at'])
        .execute();
      await db.schema
        .createIndex('refresh_tokens_expires_at')
        .on('refresh_tokens')
        .column('expires_at')
        .execute();

      await db.schema
        .createTable('session_generations')
        .addColumn('subject', 'text', (c) => c.primaryKey())
        .addColumn('generation', 'bigint', (c) => c.notNull())
        .execute();
    },
  };
}
