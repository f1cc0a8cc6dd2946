import type { Kysely } from 'kysely';
import { type Db, flag } from './account-columns.js';
import type { Database } from './schema.js';
import { toUserRow, type UserRow } from './user-rows.js';

/** An OIDC login attempt begun: what the callback checks the provider's answer against. */
export interface OidcLoginRow {
  state: string;
  nonce: string;
  codeVerifier: string;
  next: string;
  createdAt: number;
  expiresAt: number;
}

export interface CliSecretRow {
  id: string;
  userId: number;
  secretHash: string;
  createdAt: number;
  lastUsedAt: number | null;
}

/** A user as the provider describes them at a login. */
export interface OidcProfileRow {
  issuer: string;
  subject: string;
  username: string;
  email: string | null;
  groups: readonly string[];
  /** Undefined: leave the flag as it is (no admin group configured). */
  systemAdmin?: boolean;
  now: number;
}

/** Why a provider's subject could not be given a user. */
export type OidcProvisionRefusal = 'name-taken';

/** oidc_logins, oidc_identities and cli_secrets (migration-oidc.ts). */
export class OidcRows {
  constructor(private readonly db: Db) {}

  // --- login attempts --------------------------------------------------------------------------------------

  async insertLogin(login: OidcLoginRow): Promise<void> {
    await this.db
      .insertInto('oidc_logins')
      .values({
        state: login.state,
        nonce: login.nonce,
        code_verifier: login.codeVerifier,
        next: login.next,
        created_at: login.createdAt,
        expires_at: login.expiresAt,
      })
      .execute();
  }

  /** Deletes and returns the attempt: whoever deletes it first uses it, on whichever node. */
  async takeLogin(state: string): Promise<OidcLoginRow | undefined> {
    const row = await this.db
      .deleteFrom('oidc_logins')
      .where('state', '=', state)
      .returningAll()
      .executeTakeFirst();
    return (
      row && {
        state: row.state,
        nonce: row.nonce,
        codeVerifier: row.code_verifier,
        next: row.next,
        createdAt: Number(row.created_at),
        expiresAt: Number(row.expires_at),
      }
    );
  }

  async deleteExpiredLogins(now: number): Promise<void> {
    await this.db.deleteFrom('oidc_logins').where('expires_at', '<=', now).execute();
  }

  // --- users signed in by a provider -----------------------------------------------------------------------

  /**
   * The user the provider's subject signs in, created on its first login and refreshed (email, groups, admin
   * flag) on each. A first login takes the name only when no user holds it: a local or LDAP user, or another
   * subject's user, is never taken over.
   */
  provision(profile: OidcProfileRow): Promise<UserRow | OidcProvisionRefusal> {
    const run = async (trx: Db): Promise<UserRow | OidcProvisionRefusal> => {
      const groups = JSON.stringify(profile.groups);
      const linked = await trx
        .selectFrom('oidc_identities')
        .select('user_id')
        .where('issuer', '=', profile.issuer)
        .where('subject', '=', profile.subject)
        .executeTakeFirst();
      let userId: number;
      if (linked) {
        userId = Number(linked.user_id);
        await trx
          .updateTable('oidc_identities')
          .set({ last_login_at: profile.now })
          .where('user_id', '=', userId)
          .execute();
      } else {
        const created = await trx
          .insertInto('users')
          .values({
            username: profile.username,
            password_hash: null,
            email: profile.email,
            source: 'oidc',
            system_admin: flag(profile.systemAdmin === true),
            disabled: 0,
            ldap_groups: groups,
            created_at: profile.now,
            password_changed_at: profile.now,
          })
          .onConflict((oc) => oc.column('username').doNothing())
          .returning('id')
          .executeTakeFirst();
        if (!created) return 'name-taken';
        userId = Number(created.id);
        await trx
          .insertInto('oidc_identities')
          .values({
            user_id: userId,
            issuer: profile.issuer,
            subject: profile.subject,
            last_login_at: profile.now,
          })
          .execute();
      }
      const row = await trx
        .updateTable('users')
        .set({
          email: profile.email,
          ldap_groups: groups,
          ...(profile.systemAdmin === undefined ? {} : { system_admin: flag(profile.systemAdmin) }),
        })
        .where('id', '=', userId)
        .returningAll()
        .executeTakeFirstOrThrow();
      return toUserRow(row);
    };
    if (this.db.isTransaction) return run(this.db);
    return (this.db as Kysely<Database>).transaction().execute(run);
  }

  // --- CLI secrets -----------------------------------------------------------------------------------------

  /** Sets the user's CLI secret, replacing any previous one. */
  async replaceCliSecret(secret: Omit<CliSecretRow, 'lastUsedAt'>): Promise<void> {
    const put = async (trx: Db) => {
      await trx.deleteFrom('cli_secrets').where('user_id', '=', secret.userId).execute();
      await trx
        .insertInto('cli_secrets')
        .values({
          id: secret.id,
          user_id: secret.userId,
          secret_hash: secret.secretHash,
          created_at: secret.createdAt,
          last_used_at: null,
        })
        .execute();
    };
    if (this.db.isTransaction) return put(this.db);
    await (this.db as Kysely<Database>).transaction().execute(put);
  }

  async cliSecretOf(userId: number): Promise<CliSecretRow | undefined> {
    const row = await this.db
      .selectFrom('cli_secrets')
      .selectAll()
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row && toCliSecretRow(row);
  }

  /** The secret and its user, in one query (a login with it needs both). */
  async cliSecretWithUser(id: string): Promise<{ secret: CliSecretRow; user: UserRow } | undefined> {
    const row = await this.db
      .selectFrom('cli_secrets as s')
      .innerJoin('users as u', 'u.id', 's.user_id')
      .selectAll('u')
      .select([
        's.id as secret_id',
        's.secret_hash as secret_hash',
        's.created_at as secret_created_at',
        's.last_used_at as secret_last_used_at',
      ])
      .where('s.id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      secret: toCliSecretRow({
        id: row.secret_id,
        user_id: row.id,
        secret_hash: row.secret_hash,
        created_at: row.secret_created_at,
        last_used_at: row.secret_last_used_at,
      }),
      user: toUserRow(row),
    };
  }

  async touchCliSecret(id: string, now: number): Promise<void> {
    await this.db.updateTable('cli_secrets').set({ last_used_at: now }).where('id', '=', id).execute();
  }

  /** Whether there was one to delete. */
  async deleteCliSecret(userId: number): Promise<boolean> {
    const result = await this.db.deleteFrom('cli_secrets').where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}

function toCliSecretRow(row: {
  id: string;
  user_id: number;
  secret_hash: string;
  created_at: number;
  last_used_at: number | null;
}): CliSecretRow {
  return {
    id: row.id,
    userId: Number(row.user_id),
    secretHash: row.secret_hash,
    createdAt: Number(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
  };
}
