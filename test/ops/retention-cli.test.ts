// `berth project retention …` (the real command through tsx) against a running Berth: set a policy from a file
// and from standard input, show it, preview a run, run it, list the history.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRule } from '../../src/cli/retention-commands.js';
import { RetentionRuleSchema } from '../../src/lifecycle/index.js';
import { runCli } from '../helpers/cli.js';
import { type BuiltImage, OciClient, sleep } from '../helpers/oci-client.js';
import { startBerth, type TestBerth } from '../helpers/server.js';

const berth = (args: string[], env: Record<string, string>, input?: string) => runCli(args, { env, input });

describe('describeRule', () => {
  const CASES: [input: unknown, text: string][] = [
    [
      { keep: 'latestPushed', count: 10 },
      'keep the 10 most recently pushed of the tagged artifacts in every repository',
    ],
    [
      { keep: 'pulledWithin', days: 30, untagged: true },
      'keep those pulled within 30 days of the tagged or untagged artifacts in every repository',
    ],
    [
      { keep: 'always', repositories: 'team/app', tags: { pattern: 'release-*' } },
      'keep all of the tagged release-* artifacts in team/app',
    ],
    [
      { keep: 'pulledWithin', days: 1, tags: { pattern: 'dev-*', match: 'excluding' } },
      'keep those pulled within 1 day of the tagged other than dev-* artifacts in every repository',
    ],
    [
      { keep: 'always', tags: { pattern: '**', match: 'excluding' }, untagged: true },
      'keep all of the untagged artifacts in every repository',
    ],
  ];
  for (const [input, text] of CASES) {
    it(text, () => expect(describeRule(RetentionRuleSchema.parse(input))).toBe(text));
  }
});

describe('berth project retention', () => {
  let server: TestBerth;
  let admin: Record<string, string>;
  const images: Record<string, BuiltImage> = {};

  beforeAll(async () => {
    server = await startBerth();
    await server.berth.accounts.setPassword('admin', 'admin cli password');
    await server.berth.accounts.createProject({ name: 'team' });
    admin = { BERTH_SERVER: server.url, BERTH_USER: 'admin', BERTH_PASSWORD: 'admin cli password' };
    const client = new OciClient(server.url);
    for (const tag of ['v1', 'v2', 'v3']) {
      await sleep(3);
      images[tag] = await client.pushRandomImage('team/app', tag, { layers: 1, layerSize: 32 });
    }
  });
  afterAll(() => server.close());

  it('shows that a project has no policy', async () => {
    expect(await berth(['project', 'retention', 'team'], admin)).toMatchObject({
      code: 0,
      stdout: 'team: no retention rules (nothing is deleted)\nschedule: none (manual runs only)\n',
    });
  });

  it('sets a policy from a file and from standard input', async () => {
    const file = join(server.dataDir, 'policy.json');
    await writeFile(
      file,
      JSON.stringify({
        rules: [
          { keep: 'latestPushed', count: 2 },
          { keep: 'pulledWithin', days: 30, untagged: true },
        ],
        schedule: '0 3 * * *',
      }),
    );
    const set = await berth(['project', 'retention', 'team', '--set', file], admin);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(
      new RegExp(
        '^team: 2 retention rules; what none keeps is deleted\\n' +
          '  1\\. keep the 2 most recently pushed of the tagged artifacts in every repository\\n' +
          '  2\\. keep those pulled within 30 days of the tagged or untagged artifacts in every repository\\n' +
          'schedule: 0 3 \\* \\* \\* \\(UTC\\), next run \\d{4}-\\d\\d-\\d\\dT03:00:00\\.000Z\\n$',
      ),
    );
    const shown = await berth(['project', 'retention', 'team'], admin);
    expect(shown.stdout).toBe(set.stdout);

    const piped = await berth(
      ['project', 'retention', 'team', '--set', '-', '--json'],
      admin,
      JSON.stringify({ rules: [{ keep: 'latestPushed', count: 2 }] }),
    );
    expect(piped.code, piped.stderr).toBe(0);
    expect(JSON.parse(piped.stdout)).toMatchObject({ project: 'team', schedule: null, nextRunAt: null });
  });

  it('refuses a bad policy with the server’s message, and a file that is not JSON', async () => {
    const bad = await berth(
      ['project', 'retention', 'team', '--set', '-'],
      admin,
      '{"rules":[{"keep":"x"}]}',
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^berth: invalid request: body\.rules\.0\.keep: /);
    const notJson = await berth(['project', 'retention', 'team', '--set', '-'], admin, 'rules: []');
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/^berth: --set: standard input is not JSON/);
    const missing = await berth(['project', 'retention', 'nope'], admin);
    expect(missing).toMatchObject({ code: 1, stderr: "berth: project 'nope' not found\n" });
  });

  it('previews a run, then runs it, and lists both', async () => {
    const dry = await berth(['project', 'retention', 'run', 'team', '--dry-run', '--wait'], admin);
    expect(dry.code, dry.stderr).toBe(0);
    const v1 = images.v1?.digest as string;
    expect(dry.stdout).toMatch(
      new RegExp(
        '^retention dry run \\d+ of team succeeded\\n' +
          '3 artifacts under the rules: 2 kept, 1 would be deleted \\(with 0 referrers\\), 0 kept by immutable tags\\n' +
          '\\nwould be deleted:\\n' +
          'REPOSITORY +DIGEST +TAGS +REFERRERS\\n' +
          `team/app +${v1} +v1 +0\\n$`,
      ),
    );
    expect((await new OciClient(server.url).tags('team/app')).sort()).toEqual(['v1', 'v2', 'v3']);

    const started = await berth(['project', 'retention', 'run', 'team'], admin);
    expect(started.stdout).toMatch(
      /^started retention run (\d+) of team \(berth project retention history team\)\n$/,
    );
    const id = Number(/run (\d+)/.exec(started.stdout)?.[1]);
    let status = 'running';
    while (status === 'running') {
      await sleep(20);
      status = (await server.berth.retention.getRun('team', id)).status;
    }
    expect(status).toBe('succeeded');
    expect((await new OciClient(server.url).tags('team/app')).sort()).toEqual(['v2', 'v3']);

    const history = await berth(['project', 'retention', 'history', 'team'], admin);
    expect(history.code, history.stderr).toBe(0);
    const lines = history.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID +STARTED +TRIGGER +DRY RUN +STATUS +DELETED +KEPT \(IMMUTABLE\) +BY$/);
    expect(lines.slice(1).map((line) => line.split(/ +/).slice(2))).toEqual([
      ['manual', 'no', 'succeeded', '1', '0', 'admin'],
      ['manual', 'yes', 'succeeded', '1', '0', 'admin'],
    ]);
  });
});
