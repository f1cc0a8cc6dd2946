// The admin verbs of the real `berth` command (TypeScript sources through tsx) against a real running Berth:
// what a new operator does from the README, refusals with the API's own message, and the exit codes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuthorization } from '../../src/auth/index.js';
import { runCli } from '../helpers/cli.js';
import { startBerth, type TestBerth } from '../helpers/server.js';

const ADMIN_PASSWORD = 'admin cli password';

/** Runs `berth …` with a clean BERTH_* environment plus `env`, feeding `input` to standard input. */
const berth = runCli;

describe('berth admin commands against a running server', () => {
  let server: TestBerth;
  let admin: Record<string, string>;
  const as = (user: string, password: string) => ({
    BERTH_SERVER: server.url,
    BERTH_USER: user,
    BERTH_PASSWORD: password,
  });

  beforeAll(async () => {
    server = await startBerth();
    // The first start made `admin` with a generated password; give it one the test knows.
    await server.berth.accounts.setPassword('admin', ADMIN_PASSWORD);
    admin = as('admin', ADMIN_PASSWORD);
  });
  afterAll(() => server.close());

  it('takes a new operator from nothing to a robot that can log in', async () => {
    const user = await berth(['user', 'add', 'alice', '--password-stdin', '--email', 'alice@example.com'], {
      env: admin,
      input: 'alice password 1\n',
    });
    expect(user).toMatchObject({ code: 0, stdout: 'created user alice\n' });
    expect(await server.berth.accounts.authenticate('alice', 'alice password 1')).toMatchObject({
      kind: 'user',
    });

    const project = await berth(['project', 'create', 'team'], { env: admin });
    expect(project).toMatchObject({ code: 0, stdout: 'created project team (private)\n' });
    const member = await berth(['project', 'member', 'add', 'team', 'alice', 'developer'], { env: admin });
    expect(member).toMatchObject({ code: 0, stdout: 'user alice is developer in team\n' });

    const robot = await berth(
      ['robot', 'create', 'ci', '--project', 'team', '--actions', 'pull,push', '--expires-days', '30'],
      { env: admin },
    );
    expect(robot.code).toBe(0);
    expect(robot.stderr).toMatch(/not shown again/);
    const secret = /^secret: (berth_\S+)$/m.exec(robot.stdout)?.[1];
    expect(robot.stdout).toMatch(/^login: {2}robot\$ci$/m);
    expect(secret).toBeDefined();
    const me = await fetch(`${server.url}/api/v1/me`, {
      headers: { authorization: basicAuthorization('robot$ci', secret as string) },
    });
    expect(await me.json()).toMatchObject({
      kind: 'robot',
      name: 'ci',
      permissions: [{ project: 'team', actions: ['pull', 'push'] }],
    });
    const stored = await server.berth.accounts.getRobot('ci');
    expect(stored.expiresAt).toBeGreaterThan(Date.now() + 29 * 86_400_000);
  });

  it('lists users and projects, as a table or as JSON', async () => {
    const table = await berth(['user', 'list'], { env: admin });
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^USERNAME\s+ADMIN\s+DISABLED\s+SOURCE\s+EMAIL$/);
    expect(table.stdout).toMatch(/^alice\s+no\s+no\s+local\s+alice@example\.com$/m);
    const json = await berth(['project', 'list', '--json'], { env: as('alice', 'alice password 1') });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).map((p: { name: string }) => p.name)).toEqual(['library', 'team']);
  });

  it('takes flags before the verb, and the server from --server', async () => {
    const result = await berth([
      '--server',
      server.url,
      '--user',
      'admin',
      '--password',
      ADMIN_PASSWORD,
      'user',
      'add',
      'bob',
      '--password',
      'bob password 1',
    ]);
    expect(result).toMatchObject({ code: 0, stdout: 'created user bob\n' });
    expect(await server.berth.accounts.authenticate('bob', 'bob password 1')).not.toBeNull();
  });

  it('refuses a user without the right with the API’s message and exit code 1', async () => {
    const result = await berth(['user', 'list'], { env: as('alice', 'alice password 1') });
    expect(result).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'berth: listing users needs system administrator rights\n',
    });
    const robot = await berth(['robot', 'create', 'mine', '--project', 'team', '--actions', 'pull'], {
      env: as('alice', 'alice password 1'),
    });
    expect(robot.code).toBe(1);
    expect(robot.stderr).toBe(
      "berth: creating a robot needs the projectAdmin role (members:manage) in project 'team'\n",
    );
  });

  it('says how to log in when no credentials are given, and when they are wrong', async () => {
    const none = await berth(['user', 'list'], { env: { BERTH_SERVER: server.url } });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^berth: .*--user and --password, or BERTH_USER and BERTH_PASSWORD\)\n$/);
    const wrong = await berth(['project', 'list'], { env: as('alice', 'not her password') });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr.split('\n')).toHaveLength(2);
  });

  it('lets a user change their own password, logging in with the current one', async () => {
    const changed = await berth(['user', 'passwd', 'alice', '--password-stdin'], {
      env: as('alice', 'alice password 1'),
      input: 'alice password 2\n',
    });
    expect(changed).toMatchObject({ code: 0, stdout: 'changed the password of alice\n' });
    expect(await server.berth.accounts.authenticate('alice', 'alice password 2')).not.toBeNull();
    expect(await server.berth.accounts.authenticate('alice', 'alice password 1')).toBeNull();
  });

  it('disables and enables a user', async () => {
    expect((await berth(['user', 'disable', 'bob'], { env: admin })).stdout).toBe('disabled user bob\n');
    expect((await berth(['project', 'list'], { env: as('bob', 'bob password 1') })).code).toBe(1);
    expect((await berth(['user', 'enable', 'bob'], { env: admin })).stdout).toBe('enabled user bob\n');
    expect((await berth(['project', 'list'], { env: as('bob', 'bob password 1') })).code).toBe(0);
  });

  it('creates a personal access token that works as the password', async () => {
    const created = await berth(['token', 'create', 'laptop', '--project', 'team', '--actions', 'pull'], {
      env: as('alice', 'alice password 2'),
    });
    expect(created.code).toBe(0);
    const secret = /^secret: (berth_\S+)$/m.exec(created.stdout)?.[1] as string;
    const listed = await berth(['project', 'list', '--json'], { env: as('alice', secret) });
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).map((p: { name: string }) => p.name)).toContain('team');
    const [token] = await server.berth.accounts.listAccessTokens('alice');
    expect(token).toMatchObject({ name: 'laptop', permissions: [{ project: 'team', actions: ['pull'] }] });
  });

  it('shows the audit log with filters, as a table or as JSON lines', async () => {
    const table = await berth(['audit', '--since', '1h', '--actor', 'admin'], { env: admin });
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^TIME\s+ACTOR\s+ACTION\s+RESOURCE\s+RESULT\s+SOURCE$/);
    expect(table.stdout).toMatch(/\sadmin\s+user\.create\s+user:alice\s+success\s/);
    expect(table.stdout).toMatch(/\sadmin\s+robot\.create\s+robot:ci\s+success\s/);
    const json = await berth(['audit', '--action', 'member.set', '--json'], { env: admin });
    expect(json.code).toBe(0);
    const events = json.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actor: 'admin',
      resource: 'team',
      result: 'success',
      userAgent: 'berth-cli',
    });
    const refused = await berth(['audit'], { env: as('alice', 'alice password 2') });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^berth: reading the whole audit log needs system administrator rights/);
  });

  // Independent of each other and of the server's state: run side by side.
  it.concurrent.each([
    [
      ['project', 'member', 'add', 'team', 'alice', 'boss'],
      /role: one of guest, developer, maintainer, projectAdmin/,
    ],
    [['robot', 'create', 'x', '--project', 'team', '--actions', 'fly'], /--actions: unknown action 'fly'/],
    [['robot', 'create', 'x', '--actions', 'pull'], /--project/],
    [
      ['robot', 'create', 'x', '--project', 'team', '--actions', 'pull', '--expires-days', 'soon'],
      /--expires-days/,
    ],
    [['audit', '--since', 'last tuesday'], /--since/],
    [['token', 'create', 'x', '--project', 'team'], /--project and --actions together/],
    [['user', 'add', 'carol'], /--password-stdin/],
    [['user', 'list', '--bogus'], /unknown option/],
    [['user', 'list', '--server', 'not a url'], /--server: not a URL/],
  ])('exits 2 on the usage error in %j', async (args, message) => {
    const result = await berth(args as string[], { env: admin });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('exits 1 when the server cannot be reached', async () => {
    const result = await berth(['project', 'list'], { env: { BERTH_SERVER: 'http://127.0.0.1:9' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^berth: cannot reach the Berth server at http:\/\/127\.0\.0\.1:9: /);
  });
});
