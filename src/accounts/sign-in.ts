import {
  hashPassword,
  type Identity,
  LdapAuthenticator,
  type LdapConfig,
  needsRehash,
  parseSecretToken,
  type ScryptParams,
  verifyAgainstDummy,
  verifyPassword,
  verifyToken,
} from '../auth/index.js';
import type { AccountsStore, UserRow } from '../metadata/index.js';
import { ROBOT_PREFIX, robotActive, robotIdentity, userIdentity } from './account-records.js';
import { isAccountName, MAX_PASSWORD_LENGTH } from './account-validation.js';

/** A token's last_used_at is written at most this often, so that busy CI tokens do not write on every login. */
export const TOKEN_USE_RESOLUTION_MS = 60_000;
/** Longer login names are no account of ours (LDAP names included); refuse them before any lookup. */
const MAX_LOGIN_NAME = 256;

export interface SignInOptions {
  ldap?: LdapConfig;
  scrypt: ScryptParams;
  now: () => number;
  /** An OIDC user's CLI secret (same shape as an access token): the identity, or null when it is not one. */
  cliSecret?: (username: string, id: string, secret: string) => Promise<Identity | null>;
}

/**
 * Credential checks: robot secrets, personal access tokens, local passwords and LDAP binds, and the identity
 * behind a token subject. Wrong, unknown, disabled or expired → null; a broken LDAP server → AuthError.
 */
export class SignIn {
  readonly #store: AccountsStore;
  readonly #ldap: LdapAuthenticator | undefined;
  readonly #scrypt: ScryptParams;
  readonly #now: () => number;
  readonly #cliSecret: SignInOptions['cliSecret'];

  constructor(store: AccountsStore, options: SignInOptions) {
    this.#cliSecret = options.cliSecret;
    this.#store = store;
    this.#ldap = options.ldap ? new LdapAuthenticator(options.ldap) : undefined;
    this.#scrypt = options.scrypt;
    this.#now = options.now;
  }

  get ldapEnabled(): boolean {
    return this.#ldap !== undefined;
  }

  async authenticate(username: string, password: string): Promise<Identity | null> {
    if (username.length > MAX_LOGIN_NAME || password.length > MAX_PASSWORD_LENGTH) return null;
    if (username.startsWith(ROBOT_PREFIX)) return this.#robot(username.slice(ROBOT_PREFIX.length), password);
    const token = parseSecretToken(password);
    // Passwords may not take this shape (see checkPassword), so a token-shaped one is only ever a token.
    if (token) {
      const identity = await this.#accessToken(username, token.id, token.secret);
      return identity ?? (await this.#cliSecret?.(username, token.id, token.secret)) ?? null;
    }
    const row = await this.#store.users.byName(username);
    // A local user never falls back to the directory, whatever the directory says about the name.
    if (row?.source === 'local' && row.passwordHash !== null)
      return this.#local(row, row.passwordHash, password);
    if (this.#ldap && (row === undefined || row.source === 'ldap'))
      return this.#directory(username, password);
    await verifyAgainstDummy(password, this.#scrypt);
    return null;
  }

  /** The identity behind a token subject (a username or robot$name) now; undefined if gone or disabled. */
  async identityOf(subject: string): Promise<Identity | undefined> {
    if (subject.startsWith(ROBOT_PREFIX)) {
      const robot = await this.#store.robots.byName(subject.slice(ROBOT_PREFIX.length));
      return robot && robotActive(robot, this.#now()) ? robotIdentity(robot) : undefined;
    }
    const user = await this.#store.users.byName(subject);
    return user && !user.disabled ? userIdentity(user) : undefined;
  }

  /** The identity a personal access token gives now (narrowed by its permissions); undefined once revoked. */
  async identityOfAccessToken(username: string, id: string): Promise<Identity | undefined> {
    const found = await this.#store.tokens.withUser(id);
    if (!found || found.user.username !== username || found.user.disabled) return undefined;
    const { expiresAt, permissions } = found.token;
    if (expiresAt !== null && expiresAt <= this.#now()) return undefined;
    return userIdentity(found.user, permissions);
  }

  async #robot(name: string, password: string): Promise<Identity | null> {
    const secret = parseSecretToken(password);
    if (!secret || !isAccountName(name)) return null;
    const robot = await this.#store.robots.byName(name);
    if (!robot || robot.secretId !== secret.id || !verifyToken(secret.secret, robot.secretHash)) return null;
    return robotActive(robot, this.#now()) ? robotIdentity(robot) : null;
  }

  async #accessToken(username: string, id: string, secret: string): Promise<Identity | null> {
    const found = await this.#store.tokens.withUser(id);
    if (!found || found.user.username !== username || !verifyToken(secret, found.token.secretHash)) {
      return null;
    }
    const { token, user } = found;
    const now = this.#now();
    if (user.disabled || (token.expiresAt !== null && token.expiresAt <= now)) return null;
    if (token.lastUsedAt === null || now - token.lastUsedAt >= TOKEN_USE_RESOLUTION_MS) {
      await this.#store.tokens.touch(token.id, now);
    }
    return userIdentity(user, token.permissions);
  }

  async #local(row: UserRow, hash: string, password: string): Promise<Identity | null> {
    // Verify before looking at `disabled`, so the answer time does not tell disabled accounts apart.
    if (!(await verifyPassword(password, hash)) || row.disabled) return null;
    if (needsRehash(hash, this.#scrypt)) {
      await this.#store.users.update(row.username, {
        passwordHash: await hashPassword(password, this.#scrypt),
      });
    }
    return userIdentity(row);
  }

  /** LDAP bind; on success the user's row is created or refreshed with the groups seen now. */
  async #directory(username: string, password: string): Promise<Identity | null> {
    // Throws AuthError LDAP_UNAVAILABLE / LDAP_MISCONFIGURED: the caller answers 503/500, not 401.
    const entry = await (this.#ldap as LdapAuthenticator).authenticate(username, password);
    if (!entry) return null;
    // The directory's own spelling of the name (uid matching is case-insensitive there).
    const canonical = entry.username.toLowerCase();
    if (!isAccountName(canonical)) return null;
    const row = await this.#store.users.upsertLdap({
      username: canonical,
      email: entry.email ?? null,
      groups: [...new Set(entry.groups)],
      now: this.#now(),
    });
    // Undefined: the name belongs to a local user, which a directory entry never takes over.
    return row && !row.disabled ? userIdentity(row) : null;
  }
}
