// LdapAuthenticator against a real OpenLDAP (slapd) seeded by test/helpers/slapd.ts; no LDAP mocks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, LdapAuthenticator, type LdapConfig } from '../../../src/auth/index.js';
import { BASE_DN, findSlapd, LDAP_USERS, type Slapd, startSlapd } from '../../helpers/slapd.js';

const available = findSlapd() !== null;
if (!available) {
  console.warn(
    '\n!!! SKIPPING LDAP tests: slapd is not installed (apt-get install -y slapd ldap-utils) !!!\n',
  );
}

const ALICE = LDAP_USERS.alice.password;
const PEOPLE = `ou=people,${BASE_DN}`;

async function rejection(promise: Promise<unknown>): Promise<AuthError> {
  const error = await promise.then(
    () => new Error('expected an AuthError'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AuthError);
  return error as AuthError;
}

describe.skipIf(!available)('LdapAuthenticator against slapd', () => {
  let slapd: Slapd;
  let config: LdapConfig;

  beforeAll(async () => {
    slapd = await startSlapd();
    config = {
      url: slapd.url,
      bindDN: slapd.bindDN,
      bindPassword: slapd.bindPassword,
      userBase: PEOPLE,
      userFilter: '(&(objectClass=inetOrgPerson)(uid={username}))',
      groupBase: slapd.groupBase,
      groupFilter: '(&(objectClass=groupOfNames)(member={dn}))',
    };
  });
  afterAll(async () => {
    await slapd?.stop();
  });

  it('logs a user in with the right password and returns entry, email and groups', async () => {
    const user = await new LdapAuthenticator(config).authenticate('alice', ALICE);
    expect(user).toMatchObject({ username: 'alice', dn: `uid=alice,${PEOPLE}`, email: 'alice@berth.test' });
    expect(user?.groups.sort()).toEqual(['admins', 'devs']);
    expect(user?.groupDNs.sort()).toEqual([`cn=admins,ou=groups,${BASE_DN}`, `cn=devs,ou=groups,${BASE_DN}`]);
    const bob = await new LdapAuthenticator(config).authenticate('bob', LDAP_USERS.bob.password);
    expect(bob?.groups).toEqual(['ops']);
  });

  it('returns null for a wrong password, an empty password and an unknown user', async () => {
    const ldap = new LdapAuthenticator(config);
    expect(await ldap.authenticate('alice', 'wrong')).toBeNull();
    expect(await ldap.authenticate('alice', `${ALICE} `)).toBeNull();
    expect(await ldap.authenticate('alice', LDAP_USERS.bob.password)).toBeNull();
    // An empty password would be an unauthenticated bind, which slapd accepts: it must not log anyone in.
    expect(await ldap.authenticate('alice', '')).toBeNull();
    expect(await ldap.authenticate('nobody', ALICE)).toBeNull();
    expect(await ldap.authenticate('', ALICE)).toBeNull();
  });

  it.each(['*)(uid=*', '*', 'al*', 'alice)(objectClass=*', 'ali\\2ace', '*)(|(uid=*'])(
    'does not let the username %j rewrite the filter',
    async (username) => {
      // With alice's password: unescaped, 'al*' would find alice and the bind would succeed.
      expect(await new LdapAuthenticator(config).authenticate(username, ALICE)).toBeNull();
    },
  );

  it('reads groups from memberOf (the overlay) without a group search', async () => {
    const { groupBase: _unused, ...memberOfOnly } = config;
    const user = await new LdapAuthenticator(memberOfOnly).authenticate('alice', ALICE);
    expect(user?.groups.sort()).toEqual(['admins', 'devs']);
  });

  it('finds groups by search alone, as the service account (users cannot read groups here)', async () => {
    const user = await new LdapAuthenticator({ ...config, memberOfAttribute: '' }).authenticate(
      'alice',
      ALICE,
    );
    expect(user?.groups.sort()).toEqual(['admins', 'devs']);
    const narrowed = await new LdapAuthenticator({
      ...config,
      memberOfAttribute: '',
      groupFilter: '(&(member={dn})(cn=dev*))',
    }).authenticate('alice', ALICE);
    expect(narrowed?.groups).toEqual(['devs']);
  });

  it('returns no groups for a user in none', async () => {
    const user = await new LdapAuthenticator({ ...config, userBase: `ou=others,${BASE_DN}` }).authenticate(
      'twin',
      LDAP_USERS.twin.password,
    );
    expect(user).toMatchObject({ username: 'twin', groups: [], groupDNs: [] });
  });

  it('supports another login attribute and returns the canonical username', async () => {
    const user = await new LdapAuthenticator({ ...config, userFilter: '(mail={username})' }).authenticate(
      'alice@berth.test',
      ALICE,
    );
    expect(user?.username).toBe('alice');
  });

  it('treats a filter matching two entries as a configuration error, not a login', async () => {
    const error = await rejection(
      new LdapAuthenticator({ ...config, userBase: BASE_DN }).authenticate('twin', LDAP_USERS.twin.password),
    );
    expect(error.code).toBe('LDAP_MISCONFIGURED');
    expect(error.message).toContain('more than one entry');
  });

  it('reports a refused service account as a configuration error', async () => {
    const error = await rejection(
      new LdapAuthenticator({ ...config, bindPassword: 'wrong' }).authenticate('alice', ALICE),
    );
    expect(error.code).toBe('LDAP_MISCONFIGURED');
    expect(error.status).toBe(500);
  });

  it('reports a search base that does not exist as a configuration error', async () => {
    const error = await rejection(
      new LdapAuthenticator({ ...config, userBase: `ou=missing,${BASE_DN}` }).authenticate('alice', ALICE),
    );
    expect(error.code).toBe('LDAP_MISCONFIGURED');
  });

  it('rejects bad filter settings when constructed', () => {
    for (const bad of [
      { userFilter: '(uid=alice)' },
      { userFilter: '(uid={user})' },
      { userFilter: '(uid={username}' },
      { groupFilter: '(member={uid})' },
      { groupFilter: '(objectClass=groupOfNames)' },
    ]) {
      expect(() => new LdapAuthenticator({ ...config, ...bad })).toThrow(AuthError);
    }
  });
});

describe.skipIf(!available)('LdapAuthenticator with the server down', () => {
  it('throws LDAP_UNAVAILABLE for a stopped server', async () => {
    const slapd = await startSlapd();
    const ldap = new LdapAuthenticator({
      url: slapd.url,
      bindDN: slapd.bindDN,
      bindPassword: slapd.bindPassword,
      userBase: PEOPLE,
      timeoutMs: 2000,
    });
    expect(await ldap.authenticate('alice', ALICE)).not.toBeNull();
    await slapd.stop();
    const error = await rejection(ldap.authenticate('alice', ALICE));
    expect(error.code).toBe('LDAP_UNAVAILABLE');
    expect(error.status).toBe(503);
  });
});
