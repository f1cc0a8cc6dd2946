// Bad input answers 400 INVALID_REQUEST naming each problem; the core's typed errors map to 404/409/400/403.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountError } from '../../../src/accounts/index.js';
import { toApiError } from '../../../src/api/api-errors.js';
import { MAX_BODY_BYTES } from '../../../src/api/index.js';
import { AuthError } from '../../../src/auth/index.js';
import { RegistryError } from '../../../src/registry/index.js';
import { type Harness, PASSWORD, startHarness } from './api-harness.js';

describe('/api/v1 input validation', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  const error = (response: { json(): unknown }) =>
    (response.json() as { errors: { code: string; message: string; detail?: unknown }[] }).errors[0];

  it('names every bad field of a body in the message and in detail.issues', async () => {
    const response = await h.request('systemAdmin', 'POST', '/api/v1/users', {
      username: 'Not Valid!',
      password: 'short',
    });
    expect(response.statusCode).toBe(400);
    const e = error(response);
    expect(e?.code).toBe('INVALID_REQUEST');
    expect(e?.message).toMatch(/body\.username/);
    expect(e?.message).toMatch(/body\.password: must be at least 8 characters/);
    expect(e?.detail).toEqual({
      issues: [
        { path: 'body.username', message: expect.any(String) },
        { path: 'body.password', message: 'must be at least 8 characters' },
      ],
    });
  });

  it('refuses unknown fields rather than ignoring them (a typo must not pass silently)', async () => {
    const response = await h.request('systemAdmin', 'PATCH', '/api/v1/users/bob', { admin: true });
    expect(response.statusCode).toBe(400);
    expect(error(response)?.message).toMatch(/admin/);
    expect((await h.accounts.getUser('bob')).systemAdmin).toBe(false);
  });

  it('refuses a PATCH that changes nothing', async () => {
    const response = await h.request('systemAdmin', 'PATCH', '/api/v1/projects/team', {});
    expect(response.statusCode).toBe(400);
    expect(error(response)?.message).toMatch(/at least one field/);
  });

  it('refuses a missing body', async () => {
    const response = await h.request('systemAdmin', 'POST', '/api/v1/projects');
    expect(response.statusCode).toBe(400);
    expect(error(response)?.message).toMatch(/^invalid request: body:/);
  });

  it('refuses a body that is not JSON', async () => {
    const response = await h.request('systemAdmin', 'POST', '/api/v1/projects', '{"name": ');
    expect(response.statusCode).toBe(400);
    expect(error(response)).toMatchObject({ code: 'INVALID_REQUEST', message: /not valid JSON/ });
  });

  it('authenticates before it reads the body, and audits a broken one', async () => {
    const anonymous = await h.request('anonymous', 'POST', '/api/v1/projects', '{"name": ');
    expect(anonymous.statusCode).toBe(401);
    await h.request('systemAdmin', 'POST', '/api/v1/projects', '{"name": ');
    expect(h.audit.last()).toMatchObject({
      action: 'project.create',
      actor: 'admin',
      result: 'failure',
      detail: expect.stringMatching(/not valid JSON/),
    });
  });

  it('refuses other media types with 415', async () => {
    const response = await h.request('systemAdmin', 'POST', '/api/v1/projects', 'name=x', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(response.statusCode).toBe(415);
    expect(response.json().errors).toHaveLength(1);
  });

  it('accepts application/json with a charset', async () => {
    const response = await h.request('systemAdmin', 'POST', '/api/v1/projects', '{"name":"charset"}', {
      'content-type': 'application/json; charset=utf-8',
    });
    expect(response.statusCode).toBe(201);
  });

  it('refuses bodies over 1 MiB with 413', async () => {
    const big = JSON.stringify({ name: 'big', description: 'x'.repeat(MAX_BODY_BYTES) });
    const response = await h.request('systemAdmin', 'POST', '/api/v1/robots', big);
    expect(response.statusCode).toBe(413);
    expect(response.json().errors[0].code).toBe('SIZE_INVALID');
  });

  it.each([
    ['/api/v1/projects/Not_A_Project', 'path.name'],
    ['/api/v1/projects/team/members/robot/x', 'path.kind'],
    ['/api/v1/users/bob/tokens/not-an-id', 'path.id'],
    ['/api/v1/users?limit=abc', 'query.limit'],
    ['/api/v1/users?limit=0', 'query.limit'],
    ['/api/v1/users?limit=1&limit=2', 'query.limit'],
    ['/api/v1/audit?from=yesterday', 'query.from'],
    ['/api/v1/audit?before=x', 'query.before'],
  ])('%s → 400 naming %s', async (url, path) => {
    const method = url.includes('/tokens/') ? 'DELETE' : 'GET';
    const response = await h.request('systemAdmin', method, url);
    expect(response.statusCode).toBe(400);
    expect(error(response)?.message).toContain(path);
  });

  it('caps limit at 1000 instead of refusing it', async () => {
    const response = await h.request('systemAdmin', 'GET', '/api/v1/users?limit=50000');
    expect(response.statusCode).toBe(200);
  });

  it('refuses an expiry in the past', async () => {
    const response = await h.request('systemAdmin', 'POST', '/api/v1/robots', {
      name: 'late',
      permissions: [{ project: 'team', actions: ['pull'] }],
      expiresAt: '2001-01-01T00:00:00Z',
    });
    expect(response.statusCode).toBe(400);
    expect(error(response)?.message).toMatch(/expiresAt: must be in the future/);
  });

  it('refuses an action that does not exist', async () => {
    const response = await h.request('systemAdmin', 'POST', '/api/v1/robots', {
      name: 'bad-action',
      permissions: [{ project: 'team', actions: ['fly'] }],
    });
    expect(response.statusCode).toBe(400);
    expect(error(response)?.message).toMatch(/body\.permissions\.0\.actions\.0/);
  });

  it('refuses a bad push allowlist entry, naming it', async () => {
    const response = await h.request('systemAdmin', 'PATCH', '/api/v1/projects/team', {
      pushAllowlist: ['10.0.0.0/8', 'not-an-address'],
    });
    expect(response.statusCode).toBe(400);
    expect(error(response)?.message).toMatch(/not-an-address/);
  });

  it('answers 409 CONFLICT for a user that exists', async () => {
    const response = await h.request('systemAdmin', 'POST', '/api/v1/users', {
      username: 'alice',
      password: PASSWORD,
    });
    expect(response.statusCode).toBe(409);
    expect(error(response)).toMatchObject({ code: 'CONFLICT', message: /alice already exists/ });
  });

  it('answers 404 NOT_FOUND for users, projects, members, robots and tokens that do not exist', async () => {
    for (const [method, url, body] of [
      ['GET', '/api/v1/users/nobody'],
      ['GET', '/api/v1/projects/nothing'],
      ['GET', '/api/v1/projects/team/members/user/bob'],
      ['PUT', '/api/v1/projects/team/members/user/nobody', { role: 'guest' }],
      ['GET', '/api/v1/robots/nobody'],
      ['DELETE', '/api/v1/users/bob/tokens/0123456789abcdef'],
      ['POST', '/api/v1/robots', { name: 'lost', permissions: [{ project: 'nothing', actions: ['pull'] }] }],
    ] as const) {
      const response = await h.request('systemAdmin', method, url, body);
      expect(response.statusCode, `${method} ${url}`).toBe(404);
      expect(error(response)?.code).toBe('NOT_FOUND');
    }
  });

  it('answers 409 when the last system administrator would lose their rights', async () => {
    const response = await h.request('systemAdmin', 'PATCH', '/api/v1/users/admin', { disabled: true });
    expect(response.statusCode).toBe(409);
    expect(error(response)?.message).toMatch(/last enabled system administrator/);
  });

  it('answers 401 with a challenge for wrong credentials, even on public endpoints', async () => {
    const response = await h.request(
      { authorization: `Basic ${Buffer.from('alice:wrong password').toString('base64')}` },
      'GET',
      '/api/v1/projects',
    );
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toMatch(/^Basic realm="berth"/);
  });

  it('answers 400 for a malformed Authorization header', async () => {
    const response = await h.request({ authorization: 'Basic %%%' }, 'GET', '/api/v1/me');
    expect(response.statusCode).toBe(400);
    expect(error(response)?.code).toBe('INVALID_REQUEST');
  });
});

describe('toApiError', () => {
  it.each([
    ['NOT_FOUND', 404, 'NOT_FOUND'],
    ['CONFLICT', 409, 'CONFLICT'],
    ['INVALID', 400, 'INVALID_REQUEST'],
    ['FORBIDDEN', 403, 'DENIED'],
  ] as const)('maps AccountError %s to %i %s', (code, status, registryCode) => {
    const mapped = toApiError(new AccountError(code, 'why')) as RegistryError;
    expect(mapped).toBeInstanceOf(RegistryError);
    expect(mapped.status).toBe(status);
    expect(mapped.code).toBe(registryCode);
    expect(mapped.message).toBe('why');
  });

  it('adds the Basic challenge to an UNAUTHORIZED that lacks one, and maps LDAP outages to 503', () => {
    const mapped = toApiError(new RegistryError('UNAUTHORIZED')) as RegistryError;
    expect(mapped.headers['www-authenticate']).toMatch(/^Basic realm="berth"/);
    expect((toApiError(new AuthError('LDAP_UNAVAILABLE')) as RegistryError).status).toBe(503);
  });

  it('passes other errors through untouched (the error handler hides them as 500)', () => {
    const other = new Error('boom');
    expect(toApiError(other)).toBe(other);
  });
});
