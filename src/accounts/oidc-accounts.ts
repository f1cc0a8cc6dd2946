import { createSecretToken, type Identity, verifyToken } from '../auth/index.js';
import type { OidcProfile } from '../auth/oidc/index.js';
import type { AccountsStore, OidcRows } from '../metadata/index.js';
import { toUser, userIdentity } from './account-records.js';
import { checkEmail, isAccountName } from './account-validation.js';
import { TOKEN_USE_RESOLUTION_MS } from './sign-in.js';
import { AccountError, type User } from './types.js';

/** What a user's CLI secret tells without the secret itself. */
export interface CliSecretInfo {
  createdAt: number;
  lastUsedAt: number | null;
}

/**
 * Users who sign in through an OpenID Provider, and their CLI secrets.
 *
 * A provider's subject (issuer + sub) is provisioned into a user at its first login, named by the username
 * claim (lowercased), and refreshed at each login: e-mail, groups (stored where LDAP users' are, so groups are
 * project members alike) and, when an admin group is configured, the system administrator flag.
 *
 * A CLI secret is the password an OIDC user gives docker, skopeo or the token endpoint, which cannot follow a
 * browser login: `berth_<id>_<secret>` like a personal access token, stored as a SHA-256 of the secret, shown
 * once, one per user (a new one replaces the old), refused once revoked or the user disabled.
 */
export class OidcAccounts {
  constructor(
    private readonly store: AccountsStore,
    private readonly rows: OidcRows,
    private readonly now: () => number,
  ) {}

  /**
   * The user the profile signs in, provisioned or refreshed; `adminGroup` (when set) decides the system
   * administrator flag. INVALID for a name Berth cannot take, CONFLICT when another account holds it,
   * FORBIDDEN when the user is disabled.
   */
  async signIn(profile: OidcProfile, adminGroup: string): Promise<{ user: User; identity: Identity }> {
    const username = profile.username.toLowerCase();
    if (!isAccountName(username)) {
      throw new AccountError(
        'INVALID',
        `the provider's name for the user, ${JSON.stringify(profile.username)}, is not a valid Berth username ` +
          '(2-64 of a-z 0-9 . _ -, starting with a letter or digit): choose another auth.oidc.usernameClaim',
      );
    }
    let email: string | null;
    try {
      email = checkEmail(profile.email);
    } catch {
      email = null; // a provider's odd e-mail claim is no reason to refuse the login
    }
    const wanted = adminGroup.toLowerCase();
    const row = await this.rows.provision({
      issuer: profile.issuer,
      subject: profile.subject,
      username,
      email,
      groups: profile.groups,
      ...(wanted !== '' && {
        systemAdmin: profile.groups.some((group) => group.toLowerCase() === wanted),
      }),
      now: this.now(),
    });
    if (row === 'name-taken') {
      throw new AccountError(
        'CONFLICT',
        `the username ${username} belongs to another account (a local or LDAP user, or another provider ` +
          'subject): an administrator must rename or remove it first',
      );
    }
    if (row.disabled) throw new AccountError('FORBIDDEN', `user ${username} is disabled`);
    return { user: toUser(row), identity: userIdentity(row) };
  }

  // --- CLI secrets -----------------------------------------------------------------------------------------

  /** A new CLI secret for an OIDC user (replacing any previous one), returned once. */
  async createCliSecret(username: string): Promise<{ secret: string; createdAt: number }> {
    const user = await this.#oidcUser(username);
    const secret = createSecretToken();
    const createdAt = this.now();
    await this.rows.replaceCliSecret({ id: secret.id, userId: user.id, secretHash: secret.hash, createdAt });
    return { secret: secret.token, createdAt };
  }

  async cliSecretInfo(username: string): Promise<CliSecretInfo | null> {
    const user = await this.#user(username);
    const row = await this.rows.cliSecretOf(user.id);
    return row ? { createdAt: row.createdAt, lastUsedAt: row.lastUsedAt } : null;
  }

  async revokeCliSecret(username: string): Promise<void> {
    const user = await this.#user(username);
    if (!(await this.rows.deleteCliSecret(user.id))) {
      throw new AccountError('NOT_FOUND', `user ${username} has no CLI secret`);
    }
  }

  /** The user's identity when `id`/`secret` is their CLI secret and they are enabled; null otherwise. */
  async authenticate(username: string, id: string, secret: string): Promise<Identity | null> {
    const found = await this.rows.cliSecretWithUser(id);
    if (!found || found.user.username !== username || !verifyToken(secret, found.secret.secretHash)) {
      return null;
    }
    if (found.user.disabled) return null;
    const now = this.now();
    if (found.secret.lastUsedAt === null || now - found.secret.lastUsedAt >= TOKEN_USE_RESOLUTION_MS) {
      await this.rows.touchCliSecret(id, now);
    }
    return userIdentity(found.user);
  }

  async #user(username: string) {
    const user = await this.store.users.byName(username);
    if (!user) throw new AccountError('NOT_FOUND', `user ${username} does not exist`);
    return user;
  }

  async #oidcUser(username: string) {
    const user = await this.#user(username);
    if (user.source !== 'oidc') {
      throw new AccountError(
        'INVALID',
        `user ${username} signs in with a password: CLI secrets are for single sign-on (OIDC) users, ` +
          'who have none (personal access tokens serve everyone)',
      );
    }
    return user;
  }
}
