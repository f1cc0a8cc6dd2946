// A real OpenLDAP server (Debian package `slapd`) for LDAP tests: a throwaway directory, an ephemeral loopback
// port, the memberof overlay, and a few seeded users and groups. Nothing is installed here; CI installs slapd.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { findExecutable } from '../fixtures/image.js';
import { freePort } from './ports.js';

export const BASE_DN = 'dc=berth,dc=test';
const SERVICE_DN = `cn=berth,ou=services,${BASE_DN}`;
const ADMIN_DN = `cn=admin,${BASE_DN}`;

/** Seeded users; `twin` exists twice (in two OUs) so a filter on uid alone is ambiguous. */
export const LDAP_USERS = {
  alice: { password: 'alice-pa$$:word (1)', email: 'alice@berth.test', groups: ['devs', 'admins'] },
  bob: { password: 'bob-secret', email: 'bob@berth.test', groups: ['ops'] },
  twin: { password: 'twin-secret', email: 'twin@berth.test', groups: [] as string[] },
} as const;

export interface Slapd {
  /** ldap://127.0.0.1:PORT */
  url: string;
  /** The read-only service account Berth binds as. */
  bindDN: string;
  bindPassword: string;
  baseDN: string;
  userBase: string;
  groupBase: string;
  stop(): Promise<void>;
}

/** Where slapd lives (it is in sbin, often outside a non-root PATH); null when absent. Throws in CI. */
export function findSlapd(): string | null {
  const found = findExecutable('slapd', ['/usr/sbin', '/usr/local/sbin', '/sbin']);
  if (found) return found;
  const ci = process.env.CI;
  if (ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0') {
    throw new Error(
      'Required tool "slapd" is not installed; CI must install it (see .ci/run: slapd ldap-utils).',
    );
  }
  return null;
}

function firstExisting(paths: string[]): string | undefined {
  return paths.find((path) => existsSync(path));
}

function slapdConf(dir: string, adminPassword: string): string {
  const schemaDir = firstExisting([
    '/etc/ldap/schema',
    '/etc/openldap/schema',
    '/usr/local/etc/openldap/schema',
  ]);
  if (!schemaDir) throw new Error('slapd schema directory not found');
  const moduleDir = firstExisting([
    '/usr/lib/ldap',
    '/usr/lib64/openldap',
    '/usr/lib/openldap',
    '/usr/libexec/openldap',
  ]);
  // Debian builds the backend and overlays as modules; other builds may link them in.
  const modules = moduleDir
    ? [`modulepath ${moduleDir}`, 'moduleload back_mdb', 'moduleload memberof'].filter(
        (line) => !line.startsWith('moduleload') || existsSync(join(moduleDir, `${line.split(' ')[1]}.so`)),
      )
    : [];
  return [
    ...['core', 'cosine', 'inetorgperson', 'nis'].map((name) => `include ${schemaDir}/${name}.schema`),
    ...modules,
    // Like Active Directory, accept a DN with an empty password as an anonymous bind, so tests show the
    // authenticator does not take such a bind for a login.
    'allow bind_anon_dn',
    `pidfile ${dir}/slapd.pid`,
    'database mdb',
    'maxsize 16777216',
    `suffix "${BASE_DN}"`,
    `rootdn "${ADMIN_DN}"`,
    `rootpw ${adminPassword}`,
    `directory ${dir}/data`,
    'overlay memberof',
    'memberof-group-oc groupOfNames',
    'memberof-member-ad member',
    'memberof-memberof-ad memberOf',
    'memberof-refint true',
    // Passwords: usable for binding only. Everything else: the service account reads all, a user reads itself.
    'access to attrs=userPassword by anonymous auth by * none',
    `access to * by dn.exact="${SERVICE_DN}" read by self read by * none`,
    '',
  ].join('\n');
}

async function seed(url: string, adminPassword: string, servicePassword: string): Promise<void> {
  const client = new Client({ url, timeout: 5000 });
  try {
    await client.bind(ADMIN_DN, adminPassword);
    const add = (dn: string, attributes: Record<string, string | string[]>) => client.add(dn, attributes);
    await add(BASE_DN, { objectClass: ['dcObject', 'organization'], dc: 'berth', o: 'Berth test' });
    for (const ou of ['people', 'others', 'groups', 'services']) {
      await add(`ou=${ou},${BASE_DN}`, { objectClass: 'organizationalUnit', ou });
    }
    await add(SERVICE_DN, {
      objectClass: ['organizationalRole', 'simpleSecurityObject'],
      cn: 'berth',
      userPassword: servicePassword,
    });
    const person = (uid: string, ou: string) => ({
      objectClass: ['inetOrgPerson'],
      uid,
      cn: uid,
      sn: uid,
      mail: LDAP_USERS[uid as keyof typeof LDAP_USERS].email,
      userPassword: LDAP_USERS[uid as keyof typeof LDAP_USERS].password,
      dn: `uid=${uid},ou=${ou},${BASE_DN}`,
    });
    for (const { dn, ...entry } of [
      person('alice', 'people'),
      person('bob', 'people'),
      person('twin', 'people'),
      person('twin', 'others'),
    ]) {
      await add(dn, entry);
    }
    const groups: Record<string, string[]> = { devs: ['alice'], admins: ['alice'], ops: ['bob'] };
    for (const [cn, members] of Object.entries(groups)) {
      await add(`cn=${cn},ou=groups,${BASE_DN}`, {
        objectClass: 'groupOfNames',
        cn,
        member: members.map((uid) => `uid=${uid},ou=people,${BASE_DN}`),
      });
    }
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

async function waitUntilServing(
  url: string,
  adminPassword: string,
  child: ChildProcess,
  stderr: () => string,
) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`slapd exited (${child.exitCode ?? child.signalCode}): ${stderr()}`);
    }
    const client = new Client({ url, timeout: 1000, connectTimeout: 1000 });
    try {
      await client.bind(ADMIN_DN, adminPassword);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`slapd did not start: ${String(error)} ${stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Starts a seeded slapd as the current user. Throws when slapd is missing (call findSlapd() first to skip). */
export async function startSlapd(): Promise<Slapd> {
  const binary = findSlapd();
  if (!binary) throw new Error('slapd is not installed (apt-get install -y slapd ldap-utils)');
  const dir = await mkdtemp(join(tmpdir(), 'berth-slapd-'));
  const adminPassword = randomBytes(12).toString('hex');
  const servicePassword = randomBytes(12).toString('hex');
  try {
    await mkdir(join(dir, 'data'));
    await writeFile(join(dir, 'slapd.conf'), slapdConf(dir, adminPassword));
    let lastError: unknown;
    // The port is free when picked but may be taken before slapd binds it: retry with another.
    for (let attempt = 0; attempt < 3; attempt++) {
      const url = `ldap://127.0.0.1:${await freePort()}`;
      const child = spawn(binary, ['-d', '0', '-f', join(dir, 'slapd.conf'), '-h', `${url}/`], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-4000);
      });
      const onExit = () => child.kill('SIGKILL');
      process.once('exit', onExit);
      try {
        await waitUntilServing(url, adminPassword, child, () => stderr);
        await seed(url, adminPassword, servicePassword);
      } catch (error) {
        lastError = error;
        process.off('exit', onExit);
        await stopChild(child);
        continue;
      }
      return {
        url,
        bindDN: SERVICE_DN,
        bindPassword: servicePassword,
        baseDN: BASE_DN,
        userBase: BASE_DN,
        groupBase: `ou=groups,${BASE_DN}`,
        async stop() {
          process.off('exit', onExit);
          await stopChild(child);
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
    throw lastError;
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
