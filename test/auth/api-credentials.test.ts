// /api/v1 on a real Berth with auth on: it takes Basic credentials (password, robot secret, personal access
// token) and refuses registry tokens, which would carry a limited token's user with full rights.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestBerth } from '../helpers/server.js';
import {
  basic,
  bearer,
  expectBasicChallenge,
  expectOciError,
  getToken,
  send,
  startAuthBerth,
} from './support.js';

const ADMIN_PASSWORD = 'admin-password-for-api';

describe('/api/v1 credentials', () => {
  let berth: TestBerth;
  let limitedSecret: string;

  beforeAll(async () => {
    process.env.BERTH_ADMIN_PASSWORD = ADMIN_PASSWORD;
    try {
      berth = await startAuthBerth();
    } finally {
      delete process.env.BERTH_ADMIN_PASSWORD;
    }
    await berth.berth.accounts.createProject({ name: 'team' });
    const { secret } = await berth.berth.accounts.createAccessToken({
      username: 'admin',
      name: 'pull-only',
      permissions: [{ project: 'team', actions: ['pull'] }],
    });
    limitedSecret = secret;
  });

  afterAll(async () => {
    await berth?.close();
  });

  it('answers Basic credentials: the admin password', async () => {
    const res = await send(berth.url, 'GET', '/api/v1/users', {
      authorization: basic('admin', ADMIN_PASSWORD),
    });
    expect(res.status).toBe(200);
  });

  it('keeps a limited personal access token limited: no user administration with it', async () => {
    const res = await send(berth.url, 'GET', '/api/v1/users', {
      authorization: basic('admin', limitedSecret),
    });
    await expectOciError(res, 403, 'DENIED');
  });

  it('refuses a registry token, even one issued to the admin, with a Basic challenge', async () => {
    for (const password of [ADMIN_PASSWORD, limitedSecret]) {
      const answer = await getToken(berth.url, {
        credentials: { username: 'admin', password },
        scopes: ['repository:team/app:pull'],
      });
      expect(answer.status).toBe(200);
      const res = await send(berth.url, 'GET', '/api/v1/users', {
        authorization: bearer(answer.token as string),
      });
      expectBasicChallenge(res);
      const error = await expectOciError(res, 401, 'UNAUTHORIZED');
      expect(error.message).toMatch(/Basic credentials/);
    }
  });
});
