import type { Kysely, Migration } from 'kysely';
import type { Dialect } from './migrations.js';

/**
 * OIDC single sign-on (issue 14):
 *
 * - `oidc_logins`: one row per login attempt begun, keyed by its `state`: the PKCE code verifier and the nonce
 *   stay on the server, never in the browser. The callback deletes the row as it reads it, so an attempt is
 *   used once, on whichever node the provider sends the browser back to; rows past `expires_at` are refused
 *   and pruned.
 * - `oidc_identities`: which user an OpenID Provider's subject (`iss` + `sub`) signs in. The name claim may
 *   change or be reused at the provider; the subject does not, so a later account of the same name never
 *   takes over the user.
 * - `cli_secrets`: at most one per user, `berth_<id>_<secret>` stored as a SHA-256 of the secret (as robot
 *   secrets and personal access tokens), the password OIDC users give docker, skopeo and the token endpoint.
 */
export function oidcMigration(_dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('oidc_logins')
        .addColumn('state', 'text', (c) => c.primaryKey())
        .addColumn('nonce', 'text', (c) => c.notNull())
        .addColumn('code_verifier', 'text', (c) => c.notNull())
        /** The same-origin path the browser goes to once signed in. */
        .addColumn('next', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('oidc_logins_expires_at').on('oidc_logins').column('expires_at').execute();

      await db.schema
        .createTable('oidc_identities')
        .addColumn('user_id', 'bigint', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
        .addColumn('issuer', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('last_login_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('oidc_identities_subject', ['issuer', 'subject'])
        .execute();

      await db.schema
        .createTable('cli_secrets')
        /** The id part of the secret, stored in clear: the lookup key. */
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'bigint', (c) =>
          c.notNull().unique().references('users.id').onDelete('cascade'),
        )
        .addColumn('secret_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at', 'bigint')
        .execute();
    },
  };
}
