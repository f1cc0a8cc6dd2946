import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushConfigOnlyImage } from '../../helpers/registry-core.js';
import { type Harness, PASSWORD, startHarness } from './api-harness.js';

/** Pushes a minimal image (an image config, no layers) to `repository:tag` through the registry core. */
async function pushImage(h: Harness, repository: string, tag: string): Promise<string> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', repository }));
  return pushConfigOnlyImage(h.registry, repository, tag, config);
}

const names = (body: unknown) => (body as { items: { name: string }[] }).items.map((item) => item.name);

describe('the console listings', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    for (const name of ['web-app', 'web_app', 'webxapp', 'data']) await h.accounts.createProject({ name });
    await h.accounts.setMember('web-app', { kind: 'user', name: 'alice', role: 'guest' });
    await h.accounts.createUser({ username: 'gina', password: PASSWORD });
    await h.accounts.setMember('library', { kind: 'user', name: 'gina', role: 'guest' });
  });
  afterAll(() => h.close());

  it('searches projects on the server: a literal substring, among those the caller sees, paged', async () => {
    const all = await h.request('systemAdmin', 'GET', '/api/v1/projects?q=app');
    expect(all.statusCode, all.body).toBe(200);
    expect(names(all.json())).toEqual(['web-app', 'web_app', 'webxapp']);
    // `_` and `%` are no wildcards: `web_` is not `web` and any character.
    expect(names((await h.request('systemAdmin', 'GET', '/api/v1/projects?q=web_')).json())).toEqual([
      'web_app',
    ]);
    expect(names((await h.request('systemAdmin', 'GET', '/api/v1/projects?q=%25')).json())).toEqual([]);
    expect(names((await h.request('systemAdmin', 'GET', '/api/v1/projects?q=WEB-')).json())).toEqual([
      'web-app',
    ]);
    // alice sees library (public) and web-app (member), not web_app or webxapp.
    const alice = (await h.request('user', 'GET', '/api/v1/projects?q=app')).json();
    expect(names(alice)).toEqual(['web-app']);
    const first = await h.request('systemAdmin', 'GET', '/api/v1/projects?q=app&limit=2');
    const body = first.json() as { items: unknown[]; next?: string };
    expect(names(body)).toEqual(['web-app', 'web_app']);
    expect(first.headers.link).toContain('q=app');
    const second = await h.request(
      'systemAdmin',
      'GET',
      `/api/v1/projects?q=app&limit=2&cursor=${body.next}`,
    );
    expect(names(second.json())).toEqual(['webxapp']);
    const empty = await h.request('systemAdmin', 'GET', '/api/v1/projects?q=');
    expect(empty.statusCode).toBe(400);
  });

  it('tells whether the caller is a member, not only what a public project lets anyone do', async () => {
    const gina = { authorization: `Basic ${Buffer.from(`gina:${PASSWORD}`).toString('base64')}` };
    const member = (await h.request(gina, 'GET', '/api/v1/projects/library/access')).json();
    expect(member).toEqual({ project: 'library', actions: ['pull'], member: true });
    const stranger = (await h.request('user', 'GET', '/api/v1/projects/library/access')).json();
    expect(stranger).toEqual({ project: 'library', actions: ['pull'], member: false });
    // And the server agrees: reading the quota needs a role.
    expect((await h.request(gina, 'GET', '/api/v1/projects/library/quota')).statusCode).toBe(200);
    expect((await h.request('user', 'GET', '/api/v1/projects/library/quota')).statusCode).toBe(403);
    const admin = (await h.request('systemAdmin', 'GET', '/api/v1/projects/data/access')).json();
    expect(admin).toMatchObject({ member: true, actions: expect.arrayContaining(['project:settings']) });
  });

  it("lists the default project's single-segment repositories and browses them", async () => {
    const bare = await pushImage(h, 'busybox', '1');
    const named = await pushImage(h, 'library', 'bare');
    const nested = await pushImage(h, 'library/alpine', '3');
    await pushImage(h, 'library-extra/app', '1'); // another project whose name starts alike
    const listed = await h.request('anonymous', 'GET', '/api/v1/projects/library/repositories');
    expect(listed.statusCode, listed.body).toBe(200);
    expect(listed.json()).toMatchObject({ total: 3 });
    expect(names(listed.json())).toEqual(['busybox', 'library', 'library/alpine']);
    const found = await h.request('anonymous', 'GET', '/api/v1/projects/library/repositories?q=busy');
    expect(names(found.json())).toEqual(['busybox']);
    const paged = await h.request('anonymous', 'GET', '/api/v1/projects/library/repositories?limit=2');
    const next = (paged.json() as { next: string }).next;
    const rest = await h.request('anonymous', 'GET', `/api/v1/projects/library/repositories?cursor=${next}`);
    expect(names(rest.json())).toEqual(['library/alpine']);

    for (const [repo, digest, repository] of [
      ['busybox', bare, 'busybox'],
      ['library', named, 'library'],
      ['alpine', nested, 'library/alpine'],
    ] as const) {
      const artifacts = await h.request(
        'anonymous',
        'GET',
        `/api/v1/projects/library/repositories/${repo}/artifacts`,
      );
      expect(artifacts.statusCode, artifacts.body).toBe(200);
      expect(artifacts.json()).toMatchObject({ repository });
      expect((artifacts.json() as { items: { digest: string }[] }).items.map((a) => a.digest)).toEqual([
        digest,
      ]);
      const detail = await h.request(
        'anonymous',
        'GET',
        `/api/v1/projects/library/repositories/${repo}/artifacts/${digest}/manifest`,
      );
      expect(detail.statusCode, detail.body).toBe(200);
      expect(detail.json()).toMatchObject({ digest });
    }
    // Only in the default project: team's repositories are `team/…`.
    const elsewhere = await h.request(
      'systemAdmin',
      'GET',
      '/api/v1/projects/team/repositories/busybox/artifacts',
    );
    expect(elsewhere.statusCode).toBe(404);
    const missing = await h.request(
      'anonymous',
      'GET',
      '/api/v1/projects/library/repositories/nothing/artifacts',
    );
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ errors: [{ code: 'NAME_UNKNOWN' }] });
  });
});
