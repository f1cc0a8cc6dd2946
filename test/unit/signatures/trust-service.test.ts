// Trust configuration on a real SQLite database: what is accepted (and re-encoded), what is refused and why,
// names unique per project, a version that moves with every change, and the compiled policy cache.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountService } from '../../../src/accounts/index.js';
import { parseArtifactReference } from '../../../src/cli/signature-commands.js';
import { LocalBus } from '../../../src/cluster/index.js';
import { type Database, openDatabase } from '../../../src/metadata/index.js';
import { RegistryError } from '../../../src/registry/index.js';
import { TrustService } from '../../../src/signatures/trust/trust-service.js';

const ROOT_CA = readFileSync(new URL('../../fixtures/trust/notation-root-ca.pem', import.meta.url), 'utf8');
const pem = (_type: 'ec') => generateKeyPairSync('ec', { namedCurve: 'P-256' });

async function refusal(promise: Promise<unknown>): Promise<RegistryError> {
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RegistryError);
  return error as RegistryError;
}

describe('TrustService', () => {
  let dir: string;
  let db: Kysely<Database>;
  let trust: TrustService;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-trust-'));
    ({ db } = await openDatabase(`sqlite:${join(dir, 'berth.db')}`));
    const accounts = new AccountService(db, { scrypt: { N: 2 ** 10, r: 8, p: 1 } });
    await accounts.createProject({ name: 'team' });
    await accounts.createProject({ name: 'other' });
    trust = new TrustService(db, { bus: new LocalBus() });
  });
  afterAll(async () => {
    await db.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('starts off, at version 0, trusting nothing', async () => {
    expect(await trust.view('other')).toMatchObject({
      version: 0,
      policy: { required: 'off', repositories: null },
      keys: [],
      notation: [],
    });
    expect((await trust.policy('other')).covers('other/app')).toBe(false);
    expect((await trust.policy('no-such-project')).mode).toBe('off');
  });

  it('takes EC, Ed25519 and RSA public keys, re-encoded, each change moving the version forward', async () => {
    let version = (await trust.view('team')).version;
    const keys = [
      pem('ec').publicKey,
      generateKeyPairSync('ed25519').publicKey,
      generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey,
    ];
    for (const [i, key] of keys.entries()) {
      const text = key.export({ type: 'spki', format: 'pem' }).toString();
      const added = await trust.addKey('team', { name: `k${i}`, publicKeyPem: `\n${text}\n` });
      expect(added.publicKeyPem).toBe(text);
      expect(added.fingerprint).toMatch(/^SHA256:[0-9a-f]{64}$/);
      const next = (await trust.view('team')).version;
      expect(next).toBeGreaterThan(version);
      version = next;
    }
    expect((await trust.policy('team')).trust.keys.map((k) => k.name)).toEqual(['k0', 'k1', 'k2']);
  });

  it('refuses private keys, small RSA keys, garbage and a taken name', async () => {
    const { privateKey, publicKey } = pem('ec');
    const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect((await refusal(trust.addKey('team', { name: 'p', publicKeyPem: privatePem }))).message).toMatch(
      /private key/,
    );
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    expect(
      (await refusal(trust.addKey('team', { name: 's', publicKeyPem: small.toString() }))).message,
    ).toMatch(/2048/);
    expect((await refusal(trust.addKey('team', { name: 'g', publicKeyPem: 'hello' }))).code).toBe(
      'INVALID_REQUEST',
    );
    const ok = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect((await refusal(trust.addKey('team', { name: 'k0', publicKeyPem: ok }))).code).toBe('CONFLICT');
    expect((await refusal(trust.addKey('team', { name: 'bad name!', publicKeyPem: ok }))).code).toBe(
      'INVALID_REQUEST',
    );
    expect((await refusal(trust.addKey('nope', { name: 'k', publicKeyPem: ok }))).code).toBe('NOT_FOUND');
    // The same name in another project is another key.
    await trust.addKey('other', { name: 'k0', publicKeyPem: ok });
  });

  it('takes notation trust stores of CA certificates and well-formed identities only', async () => {
    const store = await trust.addNotation('team', {
      name: 'prod',
      rootCertificatesPem: [ROOT_CA],
      trustedIdentities: ['x509.subject: C=US, ST=WA, O=Berth Tests, CN=ci', '*'],
    });
    expect(store.certificates).toEqual([
      expect.objectContaining({ subject: 'C=US, O=Berth Tests, CN=Berth Test Root CA' }),
    ]);
    const bad = async (rootCertificatesPem: string[], trustedIdentities: string[]) =>
      (await refusal(trust.addNotation('team', { name: 'x', rootCertificatesPem, trustedIdentities })))
        .message;
    expect(await bad(['no certificate here'], ['*'])).toMatch(/PEM certificate/);
    expect(await bad([ROOT_CA], ['CN=ci'])).toMatch(/trusted identity "CN=ci"/);
    expect(await bad([ROOT_CA], ['x509.subject: nonsense'])).toMatch(/trusted identity/);
    expect(
      (
        await refusal(
          trust.addNotation('team', {
            name: 'prod',
            rootCertificatesPem: [ROOT_CA],
            trustedIdentities: ['*'],
          }),
        )
      ).code,
    ).toBe('CONFLICT');
    const removed = await trust.removeNotation('team', store.id);
    expect(removed.name).toBe('prod');
    expect((await refusal(trust.removeNotation('team', store.id))).code).toBe('NOT_FOUND');
  });

  it('sets the policy, scoped by repository globs; the compiled policy follows every change at once', async () => {
    const before = await trust.policy('team');
    await trust.setPolicy('team', { required: 'enforce', repositories: ['team/prod/**', 'team/app'] });
    const policy = await trust.policy('team');
    expect(policy).not.toBe(before);
    expect(policy.mode).toBe('enforce');
    expect(['team/prod', 'team/prod/a/b', 'team/app'].map(policy.covers)).toEqual([true, true, true]);
    expect(['team/apps', 'team/dev/x'].map(policy.covers)).toEqual([false, false]);
    expect(await trust.policy('team')).toBe(policy); // cached until the next change
    const key = (await trust.view('team')).keys[0];
    await trust.removeKey('team', key?.id as number);
    expect((await trust.policy('team')).trust.version).toBeGreaterThan(policy.trust.version);
    expect(
      (await refusal(trust.setPolicy('team', { required: 'enforce', repositories: ['Team/*'] }))).code,
    ).toBe('INVALID_REQUEST');
    await trust.setPolicy('team', { required: 'warn' });
    expect((await trust.view('team')).policy).toMatchObject({ required: 'warn', repositories: null });
  });
});

describe('parseArtifactReference', () => {
  it.each([
    ['team/app:1', { project: 'team', repo: 'app', reference: '1' }],
    ['team/a/b:v1.0', { project: 'team', repo: 'a/b', reference: 'v1.0' }],
    [
      `team/app@sha256:${'a'.repeat(64)}`,
      { project: 'team', repo: 'app', reference: `sha256:${'a'.repeat(64)}` },
    ],
  ])('%s', (text, expected) => {
    expect(parseArtifactReference(text)).toEqual(expected);
  });
  it.each(['app:1', 'team/app', 'team/app:'])('refuses %s', (text) => {
    expect(() => parseArtifactReference(text)).toThrow(/artifact:/);
  });
});
