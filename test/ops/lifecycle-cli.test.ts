// `berth project quota` and `berth project immutable …` (the real command through tsx) against a running Berth.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBytes } from '../../src/cli/flag-parsing.js';
import { runCli } from '../helpers/cli.js';
import { startBerth, type TestBerth } from '../helpers/server.js';

const berth = (args: string[], env: Record<string, string>) => runCli(args, { env });

describe('parseBytes', () => {
  it.each([
    ['10000000', 10_000_000],
    ['10MB', 10_000_000],
    ['10 mb', 10_000_000],
    ['1.5GB', 1_500_000_000],
    ['2GiB', 2 * 2 ** 30],
    ['0', 0],
  ])('%s → %d', (text, bytes) => expect(parseBytes('--set', text)).toBe(bytes));
  it.each(['', 'ten', '1.5', '-1', '10 XB'])('refuses %j', (text) => {
    expect(() => parseBytes('--set', text)).toThrow(/--set: a number of bytes/);
  });
});

describe('berth project quota / immutable', () => {
  let server: TestBerth;
  let admin: Record<string, string>;

  beforeAll(async () => {
    server = await startBerth();
    await server.berth.accounts.setPassword('admin', 'admin cli password');
    await server.berth.accounts.createProject({ name: 'team' });
    admin = { BERTH_SERVER: server.url, BERTH_USER: 'admin', BERTH_PASSWORD: 'admin cli password' };
  });
  afterAll(() => server.close());

  it('sets, shows and removes a quota', async () => {
    expect(await berth(['project', 'quota', 'team', '--set', '10MB'], admin)).toMatchObject({
      code: 0,
      stdout: 'team: 0 B used of 10 MB (0 of 10000000 bytes)\n',
    });
    expect((await server.berth.lifecycle.quota('team')).limitBytes).toBe(10_000_000);
    expect(await berth(['project', 'quota', 'team'], admin)).toMatchObject({
      code: 0,
      stdout: 'team: 0 B used of 10 MB (0 of 10000000 bytes)\n',
    });
    expect(await berth(['project', 'quota', 'team', '--unset'], admin)).toMatchObject({
      code: 0,
      stdout: 'team: 0 B used, no quota (0 bytes)\n',
    });
    expect(await berth(['project', 'quota', 'team', '--set', 'lots'], admin)).toMatchObject({
      code: 2,
      stderr: "berth: --set: a number of bytes, optionally with a unit (500MB, 10GiB), not 'lots'\n",
    });
    expect(await berth(['project', 'quota', 'nope'], admin)).toMatchObject({
      code: 1,
      stderr: "berth: project 'nope' not found\n",
    });
  });

  it('adds, lists and removes immutability rules', async () => {
    const added = await berth(
      ['project', 'immutable', 'add', 'team', '--repository', 'team/**', '--tag', 'v*'],
      admin,
    );
    expect(added.code).toBe(0);
    const id = /^added rule (\d+) to team: repository "team\/\*\*", tag "v\*"\n$/.exec(added.stdout)?.[1];
    expect(id, added.stdout + added.stderr).toBeDefined();
    const listed = await berth(['project', 'immutable', 'list', 'team', '--json'], admin);
    expect(JSON.parse(listed.stdout)).toEqual([
      {
        id: Number(id),
        project: 'team',
        repositoryPattern: 'team/**',
        tagPattern: 'v*',
        createdAt: expect.any(Number),
      },
    ]);
    const table = await berth(['project', 'immutable', 'list', 'team'], admin);
    expect(table.stdout).toMatch(
      new RegExp(`^ID +REPOSITORY +TAG +CREATED\\n${id} +team/\\*\\* +v\\* +\\d{4}-`),
    );
    expect(await berth(['project', 'immutable', 'remove', 'team', id as string], admin)).toMatchObject({
      code: 0,
      stdout: `removed rule ${id} from team\n`,
    });
    expect(await server.berth.lifecycle.rules('team')).toEqual([]);
    const bad = await berth(
      ['project', 'immutable', 'add', 'team', '--repository', 'Team', '--tag', 'v*'],
      admin,
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^berth: invalid request: body\.repositoryPattern: must be a glob/);
  });
});
