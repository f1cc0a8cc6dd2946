import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  base64url,
  calculateJwkThumbprint,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Access,
  AuthError,
  fileKeyStore,
  type KeyStore,
  memoryKeyStore,
  parseScopes,
  TokenService,
} from '../../../src/auth/index.js';

const T0 = new Date('2025-03-01T12:00:00Z');
const ISSUER = 'berth-test';
const SERVICE = 'registry.test';
const ACCESS: Access[] = parseScopes('repository:team/app:pull,push');

/** A service whose clock the test moves. */
function service(store: KeyStore = memoryKeyStore(), options: { skew?: number } = {}) {
  const clock = { now: T0 };
  const tokens = new TokenService({
    issuer: ISSUER,
    keyStore: store,
    clockSkewSeconds: options.skew ?? 30,
    now: () => clock.now,
  });
  return { tokens, clock, store };
}

async function invalid(promise: Promise<unknown>): Promise<AuthError> {
  const error = await promise.then(
    () => new Error('expected TOKEN_INVALID'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AuthError);
  expect((error as AuthError).code).toBe('TOKEN_INVALID');
  expect((error as AuthError).status).toBe(401);
  return error as AuthError;
}

/** Signs arbitrary claims with the service's own stored key, as an attacker with a bug to exploit might. */
async function forge(
  store: KeyStore,
  claims: JWTPayload,
  header: Record<string, unknown> = {},
  alg = 'ES256',
): Promise<string> {
  const jwk = (await store.load()) as JWK;
  const { d: _d, ...pub } = jwk;
  const kid = await calculateJwkThumbprint(pub as JWK, 'sha256');
  const now = Math.floor(T0.getTime() / 1000);
  return new SignJWT({
    iss: ISSUER,
    sub: 'alice',
    aud: SERVICE,
    iat: now,
    nbf: now,
    exp: now + 300,
    jti: 'j',
    access: [],
    ...claims,
  })
    .setProtectedHeader({ alg, typ: 'JWT', kid, ...header })
    .sign(await importJWK(jwk, alg));
}

describe('TokenService.issue / verify', () => {
  it('issues a Docker token response whose JWT verifies back to the same grant', async () => {
    const { tokens } = service();
    const issued = await tokens.issue({ subject: 'alice', audience: SERVICE, access: ACCESS });
    expect(issued.access_token).toBe(issued.token);
    expect(issued.expires_in).toBe(300);
    expect(issued.issued_at).toBe('2025-03-01T12:00:00Z');
    const verified = await tokens.verify(issued.token, { audience: SERVICE });
    expect(verified).toMatchObject({ subject: 'alice', audience: SERVICE, access: ACCESS });
    expect(verified.issuedAt).toEqual(T0);
    expect(verified.expiresAt).toEqual(new Date(T0.getTime() + 300_000));
    expect(verified.jwtId).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('follows the JWT layout of the spec: ES256, typ JWT, kid = JWK thumbprint, standard claims', async () => {
    const { tokens } = service();
    const { token } = await tokens.issue({
      subject: 'alice',
      audience: SERVICE,
      access: ACCESS,
      expiresInSeconds: 900,
    });
    const header = decodeProtectedHeader(token);
    expect(header).toEqual({ alg: 'ES256', typ: 'JWT', kid: await tokens.keyId() });
    const { keys } = await tokens.jwks();
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toHaveProperty('d');
    expect(await calculateJwkThumbprint(keys[0] as JWK, 'sha256')).toBe(header.kid);
    const claims = decodeJwt(token);
    const iat = T0.getTime() / 1000;
    expect(claims).toMatchObject({ iss: ISSUER, sub: 'alice', aud: SERVICE, iat, nbf: iat, exp: iat + 900 });
    expect(claims.access).toEqual([{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
  });

  it('gives every token a distinct jti', async () => {
    const { tokens } = service();
    const ids = new Set<unknown>();
    for (let i = 0; i < 20; i++) {
      ids.add(decodeJwt((await tokens.issue({ subject: 'a', audience: SERVICE, access: [] })).token).jti);
    }
    expect(ids.size).toBe(20);
  });

  it('issues anonymous tokens with an empty subject and empty access', async () => {
    const { tokens } = service();
    const { token } = await tokens.issue({ subject: '', audience: SERVICE, access: [] });
    expect(await tokens.verify(token, { audience: SERVICE })).toMatchObject({ subject: '', access: [] });
  });

  it('refuses lifetimes under 60 s (the spec minimum) and grants that a verifier would reject', async () => {
    const { tokens } = service();
    await expect(
      tokens.issue({ subject: 'a', audience: SERVICE, access: [], expiresInSeconds: 59 }),
    ).rejects.toThrow(RangeError);
    const bad = [{ type: 'repository', name: 'Bad Name', actions: ['pull'] }] as Access[];
    await expect(tokens.issue({ subject: 'a', audience: SERVICE, access: bad })).rejects.toThrow(RangeError);
    expect(
      () => new TokenService({ issuer: ISSUER, keyStore: memoryKeyStore(), expiresInSeconds: 30 }),
    ).toThrow(RangeError);
  });

  it('honours exp with the configured clock skew', async () => {
    const { tokens, clock } = service(memoryKeyStore(), { skew: 30 });
    const { token } = await tokens.issue({
      subject: 'a',
      audience: SERVICE,
      access: ACCESS,
      expiresInSeconds: 60,
    });
    clock.now = new Date(T0.getTime() + 89_000);
    await expect(tokens.verify(token, { audience: SERVICE })).resolves.toBeDefined();
    clock.now = new Date(T0.getTime() + 90_000);
    expect((await invalid(tokens.verify(token, { audience: SERVICE }))).message).toContain('exp');
  });

  it('honours nbf with the configured clock skew (a token from a node whose clock runs ahead)', async () => {
    const { tokens, clock } = service();
    const { token } = await tokens.issue({ subject: 'a', audience: SERVICE, access: ACCESS });
    clock.now = new Date(T0.getTime() - 30_000);
    await expect(tokens.verify(token, { audience: SERVICE })).resolves.toBeDefined();
    clock.now = new Date(T0.getTime() - 31_000);
    expect((await invalid(tokens.verify(token, { audience: SERVICE }))).message).toContain('nbf');
  });

  it('rejects a token for another audience', async () => {
    const { tokens } = service();
    const { token } = await tokens.issue({ subject: 'a', audience: 'other.registry', access: ACCESS });
    expect((await invalid(tokens.verify(token, { audience: SERVICE }))).message).toContain('aud');
  });

  it('rejects a token signed by another key, even one presenting our kid', async () => {
    const mine = service();
    const theirs = service();
    const { token } = await theirs.tokens.issue({ subject: 'a', audience: SERVICE, access: ACCESS });
    expect((await invalid(mine.tokens.verify(token, { audience: SERVICE }))).message).toContain('key id');
    const [, payload, signature] = token.split('.');
    const header = base64url.encode(
      JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: await mine.tokens.keyId() }),
    );
    await invalid(mine.tokens.verify(`${header}.${payload}.${signature}`, { audience: SERVICE }));
  });

  it('rejects a token whose claims were edited after signing', async () => {
    const { tokens } = service();
    const { token } = await tokens.issue({
      subject: 'alice',
      audience: SERVICE,
      access: parseScopes('repository:a:pull'),
    });
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload)));
    claims.access[0].actions = ['pull', 'push', 'delete'];
    const edited = base64url.encode(JSON.stringify(claims));
    expect(
      (await invalid(tokens.verify(`${header}.${edited}.${signature}`, { audience: SERVICE }))).message,
    ).toContain('signature');
  });

  it.each([
    ['garbage', 'not-a-jwt'],
    ['empty', ''],
    ['two segments', 'a.b'],
    [
      'unsigned (alg none)',
      `${base64url.encode('{"alg":"none","typ":"JWT"}')}.${base64url.encode('{"sub":"a"}')}.`,
    ],
  ])('rejects a malformed token: %s', async (_label, token) => {
    const { tokens } = service();
    await tokens.keyId();
    await invalid(tokens.verify(token, { audience: SERVICE }));
  });

  describe('claims signed with the right key but malformed', () => {
    const cases: [string, JWTPayload, Record<string, unknown>?][] = [
      ['another issuer', { iss: 'someone-else' }],
      ['an audience list', { aud: [SERVICE, 'other'] }],
      ['no exp', { exp: undefined }],
      ['no jti', { jti: undefined }],
      ['no sub', { sub: undefined }],
      ['no access claim', { access: undefined }],
      ['access not an array', { access: { type: 'repository' } }],
      ['access with an unknown action', { access: [{ type: 'repository', name: 'a', actions: ['admin'] }] }],
      ['access with an invalid name', { access: [{ type: 'repository', name: '../a', actions: ['pull'] }] }],
      ['a refresh-token marker', { token_use: 'refresh' }],
      ['another typ header', {}, { typ: 'berth-refresh+jwt' }],
    ];
    it.each(cases)('rejects %s', async (_label, claims, header) => {
      const { tokens, store } = service();
      await tokens.keyId();
      const token = await forge(store, claims, header);
      await invalid(tokens.verify(token, { audience: SERVICE }));
    });

    it('accepts the same forged-but-well-formed token (the cases above fail for their flaw only)', async () => {
      const { tokens, store } = service();
      await tokens.keyId();
      const verified = await tokens.verify(await forge(store, {}), { audience: SERVICE });
      expect(verified.subject).toBe('alice');
    });
  });
});

describe('refresh tokens', () => {
  it('verify for their subject and audience', async () => {
    const { tokens } = service();
    const refresh = await tokens.issueRefresh('alice', { audience: SERVICE });
    const verified = await tokens.verifyRefresh(refresh, { audience: SERVICE });
    expect(verified.subject).toBe('alice');
    expect(verified.audience).toBe(SERVICE);
    expect(verified.expiresAt.getTime() - verified.issuedAt.getTime()).toBe(30 * 24 * 3600 * 1000);
    expect(decodeProtectedHeader(refresh).typ).toBe('berth-refresh+jwt');
  });

  it('are never accepted as access tokens, nor access tokens as refresh tokens', async () => {
    const { tokens } = service();
    const refresh = await tokens.issueRefresh('alice', { audience: SERVICE });
    await invalid(tokens.verify(refresh, { audience: SERVICE }));
    const { token } = await tokens.issue({ subject: 'alice', audience: SERVICE, access: [] });
    await invalid(tokens.verifyRefresh(token, { audience: SERVICE }));
  });

  it('are bound to one audience and expire', async () => {
    const { tokens, clock } = service();
    const refresh = await tokens.issueRefresh('alice', { audience: SERVICE, expiresInSeconds: 3600 });
    await invalid(tokens.verifyRefresh(refresh, { audience: 'other.registry' }));
    clock.now = new Date(T0.getTime() + 3631_000);
    await invalid(tokens.verifyRefresh(refresh, { audience: SERVICE }));
  });

  it('need a subject', async () => {
    const { tokens } = service();
    await expect(tokens.issueRefresh('', { audience: SERVICE })).rejects.toThrow(RangeError);
  });

  it('reject a refresh-typed token that also carries access', async () => {
    const { tokens, store } = service();
    await tokens.keyId();
    const forged = await forge(store, { token_use: 'refresh' }, { typ: 'berth-refresh+jwt' });
    expect((await invalid(tokens.verifyRefresh(forged, { audience: SERVICE }))).message).toContain(
      'no access',
    );
  });
});

describe('signing key', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-token-key-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is generated once on first use, even by concurrent callers', async () => {
    let saves = 0;
    const inner = memoryKeyStore();
    const counting: KeyStore = {
      load: () => inner.load(),
      save: (jwk) => {
        saves++;
        return inner.save(jwk);
      },
    };
    const { tokens } = service(counting);
    await Promise.all(
      Array.from({ length: 10 }, () => tokens.issue({ subject: 'a', audience: SERVICE, access: [] })),
    );
    expect(saves).toBe(1);
  });

  it('persists in a 0600 file, so another process (or a restart) verifies earlier tokens', async () => {
    const path = join(dir, 'token-key.json');
    const first = service(fileKeyStore(path)).tokens;
    const { token } = await first.issue({ subject: 'alice', audience: SERVICE, access: ACCESS });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const second = service(fileKeyStore(path)).tokens;
    expect(await second.keyId()).toBe(await first.keyId());
    expect((await second.verify(token, { audience: SERVICE })).access).toEqual(ACCESS);
  });

  it('converges on one key when two services start on an empty file together', async () => {
    const path = join(dir, 'race.json');
    const [a, b] = [service(fileKeyStore(path)).tokens, service(fileKeyStore(path)).tokens];
    const [kidA, kidB] = await Promise.all([a.keyId(), b.keyId()]);
    expect(kidA).toBe(kidB);
  });

  it.each<[string, () => Promise<JWK>]>([
    ['an RSA key', async () => exportJWK((await generateKeyPair('RS256', { extractable: true })).privateKey)],
    [
      'a public key only',
      async () => exportJWK((await generateKeyPair('ES256', { extractable: true })).publicKey),
    ],
    [
      'a P-384 key',
      async () => exportJWK((await generateKeyPair('ES384', { extractable: true })).privateKey),
    ],
    [
      'd from one key with x/y of another',
      async () => {
        const one = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);
        const two = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);
        return { ...one, x: two.x, y: two.y };
      },
    ],
  ])('refuses a stored key that is %s (KEY_INVALID)', async (_label, make) => {
    const { tokens } = service(memoryKeyStore(await make()));
    const error = await tokens.keyId().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as AuthError).code).toBe('KEY_INVALID');
  });

  it('retries loading after a failure instead of caching it', async () => {
    let fail = true;
    const inner = memoryKeyStore();
    const flaky: KeyStore = {
      load: () => (fail ? Promise.reject(new Error('EIO')) : inner.load()),
      save: (jwk) => inner.save(jwk),
    };
    const { tokens } = service(flaky);
    await expect(tokens.keyId()).rejects.toThrow('EIO');
    fail = false;
    await expect(tokens.keyId()).resolves.toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('session generations and recorded refresh tokens', () => {
  it('an access token carries the generation it was issued under (claim gen, left out at 0)', async () => {
    const { tokens } = service();
    const plain = await tokens.issue({ subject: 'alice', audience: SERVICE, access: ACCESS });
    expect(decodeJwt(plain.token).gen).toBeUndefined();
    expect((await tokens.verify(plain.token, { audience: SERVICE })).generation).toBe(0);
    const raised = await tokens.issue({ subject: 'alice', audience: SERVICE, access: ACCESS, generation: 3 });
    expect(decodeJwt(raised.token).gen).toBe(3);
    expect((await tokens.verify(raised.token, { audience: SERVICE })).generation).toBe(3);
    await expect(
      tokens.issue({ subject: 'alice', audience: SERVICE, access: ACCESS, generation: -1 }),
    ).rejects.toThrow(RangeError);
  });

  it('refuses a gen claim that is not a non-negative integer', async () => {
    const { tokens, store } = service();
    await tokens.keyId();
    for (const gen of [-1, 1.5, '2', null]) {
      await invalid(tokens.verify(await forge(store, { gen }), { audience: SERVICE }));
    }
  });

  it('a refresh token takes the jti its caller recorded', async () => {
    const { tokens } = service();
    const refresh = await tokens.issueRefresh('alice', { audience: SERVICE, jwtId: 'recorded-session-id' });
    expect((await tokens.verifyRefresh(refresh, { audience: SERVICE })).jwtId).toBe('recorded-session-id');
    expect(tokens.refreshExpiresInSeconds).toBe(30 * 24 * 3600);
  });
});
