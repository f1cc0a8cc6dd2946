import type { ConnectionOptions } from 'node:tls';
import {
  BusyError,
  Client,
  type Entry,
  FilterParser,
  InvalidCredentialsError,
  ResultCodeError,
  SizeLimitExceededError,
  UnavailableError,
} from 'ldapts';
import { AuthError } from './errors.js';
import { fillFilter, filterPlaceholders, firstRdnValue } from './ldap-syntax.js';

export interface LdapConfig {
  /** ldap://host:389 or ldaps://host:636. */
  url: string;
  /** The service account that searches for users and groups. */
  bindDN: string;
  bindPassword: string;
  userBase: string;
  /** Default `(uid={username})`; `{username}` is replaced by the RFC 4515-escaped login name. */
  userFilter?: string;
  /** When set, groups are also searched here (besides the user's memberOf attribute). */
  groupBase?: string;
  /** Default `(member={dn})`; may use `{dn}` and `{username}`. */
  groupFilter?: string;
  /** Attribute holding the canonical username, default `uid`. */
  usernameAttribute?: string;
  /** Default `mail`. */
  emailAttribute?: string;
  /** Attribute on the user entry listing group DNs, default `memberOf`; '' to rely on the group search only. */
  memberOfAttribute?: string;
  /** Attribute naming a group, default `cn`. */
  groupNameAttribute?: string;
  /** Upgrade an ldap:// connection with StartTLS before binding. */
  startTLS?: boolean;
  tlsOptions?: ConnectionOptions;
  /** Per operation and for connecting, default 10 s. */
  timeoutMs?: number;
}

export interface LdapUser {
  username: string;
  dn: string;
  email?: string;
  /** Group names (their `groupNameAttribute`, or the first RDN value of a memberOf DN). */
  groups: string[];
  groupDNs: string[];
}

function attribute(entry: Entry, name: string): string[] {
  const key = Object.keys(entry).find((candidate) => candidate.toLowerCase() === name.toLowerCase());
  const value = key === undefined ? undefined : entry[key];
  if (value === undefined) return [];
  const values = Array.isArray(value) ? value : [value];
  return values.map((item) => (Buffer.isBuffer(item) ? item.toString('utf8') : item));
}

function misconfigured(message: string, cause?: unknown): AuthError {
  return new AuthError('LDAP_MISCONFIGURED', { message, cause });
}

/** The server answered with a result code: a configuration or directory problem. Anything else: unreachable. */
function classify(error: unknown): AuthError {
  if (error instanceof AuthError) return error;
  if (
    error instanceof ResultCodeError &&
    !(error instanceof BusyError || error instanceof UnavailableError)
  ) {
    return misconfigured(`LDAP server refused an operation: ${error.message}`, error);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new AuthError('LDAP_UNAVAILABLE', { message: `LDAP server unavailable: ${message}`, cause: error });
}

/**
 * Checks a username and password against LDAP: bind as the service account, find the user's entry, bind as
 * that entry with the password, then (as the service account again) collect the user's groups.
 */
export class LdapAuthenticator {
  readonly #config: Required<Omit<LdapConfig, 'groupBase' | 'tlsOptions'>> &
    Pick<LdapConfig, 'groupBase' | 'tlsOptions'>;

  /** Validates the filters now, so a bad setting fails at start rather than at the first login. */
  constructor(config: LdapConfig) {
    this.#config = {
      userFilter: '(uid={username})',
      groupFilter: '(member={dn})',
      usernameAttribute: 'uid',
      emailAttribute: 'mail',
      memberOfAttribute: 'memberOf',
      groupNameAttribute: 'cn',
      startTLS: false,
      timeoutMs: 10_000,
      ...config,
    };
    const check = (name: string, template: string, allowed: string[]) => {
      const used = filterPlaceholders(template);
      const unknown = used.filter((placeholder) => !allowed.includes(placeholder));
      if (unknown.length > 0) throw misconfigured(`${name} uses unknown placeholder {${unknown[0]}}`);
      // A group filter may match on the DN (groupOfNames) or on the login name (posixGroup memberUid).
      if (!allowed.some((placeholder) => used.includes(placeholder))) {
        throw misconfigured(
          `${name} must contain ${allowed.map((placeholder) => `{${placeholder}}`).join(' or ')}`,
        );
      }
      try {
        FilterParser.parseString(fillFilter(template, { username: 'x', dn: 'cn=x' }));
      } catch (cause) {
        throw misconfigured(`${name} is not a valid LDAP filter: ${template}`, cause);
      }
    };
    check('userFilter', this.#config.userFilter, ['username']);
    check('groupFilter', this.#config.groupFilter, ['dn', 'username']);
  }

  /** The user when the password is right; null for a wrong password or unknown user. Throws AuthError otherwise. */
  async authenticate(username: string, password: string): Promise<LdapUser | null> {
    // An empty password would make an "unauthenticated bind" (RFC 4513 5.1.2), which servers accept: refuse it.
    if (username === '' || password === '') return null;
    const config = this.#config;
    const client = new Client({
      url: config.url,
      timeout: config.timeoutMs,
      connectTimeout: config.timeoutMs,
    });
    try {
      if (config.startTLS) await client.startTLS(config.tlsOptions);
      await this.#bindService(client);
      const entry = await this.#findUser(client, username);
      if (!entry) return null;
      try {
        await client.bind(entry.dn, password);
      } catch (error) {
        if (error instanceof InvalidCredentialsError) return null;
        throw error;
      }
      await this.#bindService(client);
      const groups = await this.#groups(client, entry, username);
      const email = attribute(entry, config.emailAttribute)[0];
      return {
        username: attribute(entry, config.usernameAttribute)[0] ?? username,
        dn: entry.dn,
        ...(email ? { email } : {}),
        groups: groups.map((group) => group.name),
        groupDNs: groups.map((group) => group.dn),
      };
    } catch (error) {
      throw classify(error);
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  async #bindService(client: Client): Promise<void> {
    try {
      await client.bind(this.#config.bindDN, this.#config.bindPassword);
    } catch (error) {
      if (error instanceof InvalidCredentialsError)
        throw misconfigured('LDAP service account bind refused', error);
      throw error;
    }
  }

  async #findUser(client: Client, username: string): Promise<Entry | null> {
    const { userBase, userFilter, usernameAttribute, emailAttribute, memberOfAttribute } = this.#config;
    const ambiguous = (cause?: unknown) =>
      misconfigured(`userFilter matches more than one entry for ${JSON.stringify(username)}`, cause);
    try {
      const { searchEntries } = await client.search(userBase, {
        scope: 'sub',
        filter: fillFilter(userFilter, { username }),
        attributes: [usernameAttribute, emailAttribute, ...(memberOfAttribute ? [memberOfAttribute] : [])],
        sizeLimit: 2,
      });
      if (searchEntries.length > 1) throw ambiguous();
      return searchEntries[0] ?? null;
    } catch (error) {
      if (error instanceof SizeLimitExceededError) throw ambiguous(error);
      throw error;
    }
  }

  async #groups(client: Client, user: Entry, username: string): Promise<{ dn: string; name: string }[]> {
    const { groupBase, groupFilter, groupNameAttribute, memberOfAttribute } = this.#config;
    const found = new Map<string, { dn: string; name: string }>();
    for (const dn of memberOfAttribute ? attribute(user, memberOfAttribute) : []) {
      found.set(dn.toLowerCase(), { dn, name: firstRdnValue(dn) });
    }
    if (groupBase) {
      const { searchEntries } = await client.search(groupBase, {
        scope: 'sub',
        filter: fillFilter(groupFilter, { dn: user.dn, username }),
        attributes: [groupNameAttribute],
      });
      for (const entry of searchEntries) {
        const name = attribute(entry, groupNameAttribute)[0] ?? firstRdnValue(entry.dn);
        found.set(entry.dn.toLowerCase(), { dn: entry.dn, name });
      }
    }
    return [...found.values()];
  }
}
