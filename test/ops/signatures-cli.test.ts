// `berth project trust …`, `berth project signatures …` and `berth artifact show` (the real command) against a
// running Berth: what they print, and how they fail.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { buildImage, OciClient } from '../helpers/oci-client.js';
import { startBerth, type TestBerth } from '../helpers/server.js';

const ROOT_CA = new URL('../fixtures/trust/notation-root-ca.pem', import.meta.url).pathname;

describe('berth project trust / signatures, berth artifact show', () => {
  let server: TestBerth;
  let admin: Record<string, string>;
  let dir: string;
  const berth = (...args: string[]) => runCli(args, { env: admin });

  beforeAll(async () => {
    server = await startBerth();
    await server.berth.accounts.setPassword('admin', 'admin cli password');
    await server.berth.accounts.createProject({ name: 'team' });
    admin = { BERTH_SERVER: server.url, BERTH_USER: 'admin', BERTH_PASSWORD: 'admin cli password' };
    dir = await mkdtemp(join(tmpdir(), 'berth-trust-cli-'));
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(join(dir, 'ci.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    await writeFile(join(dir, 'ci.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('adds, lists and removes keys and notation trust stores', async () => {
    const added = await berth(
      'project',
      'trust',
      'add-key',
      'team',
      '--name',
      'ci',
      '--file',
      join(dir, 'ci.pub'),
    );
    expect(added).toMatchObject({ code: 0, stderr: '' });
    const id = /key (\d+) 'ci'/.exec(added.stdout)?.[1] as string;
    const notation = await berth(
      'project',
      'trust',
      'add-notation',
      'team',
      '--name',
      'prod',
      '--ca',
      ROOT_CA,
      '--identity',
      'x509.subject: C=US, ST=WA, O=Berth Tests, CN=ci',
    );
    expect(notation).toMatchObject({ code: 0 });
    expect(notation.stdout).toMatch(
      /^team now trusts notation store \d+ 'prod' \(C=US, O=Berth Tests, CN=Berth Test Root CA\)\n$/,
    );
    const listed = await berth('project', 'trust', 'list', 'team');
    expect(listed.stdout).toMatch(/^team: signatures.required=off \(no signature needed to pull\)\n/);
    expect(listed.stdout).toMatch(new RegExp(`\\n${id}\\s+key\\s+ci\\s+SHA256:[0-9a-f]{64}`));
    expect(listed.stdout).toContain(
      'notation  prod  C=US, O=Berth Tests, CN=Berth Test Root CA → x509.subject: C=US, ST=WA, O=Berth Tests, CN=ci',
    );
    expect(await berth('project', 'trust', 'remove', 'team', id)).toMatchObject({
      code: 0,
      stdout: `team no longer trusts key ${id}\n`,
    });
    expect(await berth('project', 'trust', 'remove', 'team', id)).toMatchObject({
      code: 1,
      stderr: `berth: project 'team' trusts no key ${id}\n`,
    });
  });

  it('refuses a private key, a missing file and a bad mode', async () => {
    expect(
      await berth('project', 'trust', 'add-key', 'team', '--name', 'oops', '--file', join(dir, 'ci.key')),
    ).toMatchObject({
      code: 1,
      stderr:
        'berth: that is a private key: give the public key (cosign.pub, key.pub), never the private one\n',
    });
    expect(
      (await berth('project', 'trust', 'add-key', 'team', '--name', 'x', '--file', join(dir, 'nope.pub')))
        .code,
    ).toBe(2);
    expect(await berth('project', 'signatures', 'team', '--require', 'always')).toMatchObject({
      code: 2,
      stderr: "berth: --require: enforce, warn or off, not 'always'\n",
    });
  });

  it('sets the policy, scoped, and shows an artifact under it', async () => {
    expect(
      await berth('project', 'signatures', 'team', '--require', 'warn', '--repository', 'team/prod/**'),
    ).toMatchObject({
      code: 0,
      stdout:
        'team: signatures.required=warn for team/prod/**: pulls of artifacts without a signature from a trusted key are served and audited\n',
    });
    expect((await berth('project', 'signatures', 'team')).stdout).toMatch(
      /^team: signatures.required=warn for team\/prod\/\*\*/,
    );
    const image = await new OciClient(server.url).pushImage('team/prod/api', buildImage(), 'v1');
    const shown = await berth('artifact', 'show', 'team/prod/api:v1');
    expect(shown).toMatchObject({ code: 0 });
    expect(shown.stdout).toBe(
      [
        `artifact:   team/prod/api@${image.digest}`,
        `media type: application/vnd.oci.image.manifest.v1+json (${image.manifest.length} bytes)`,
        'signature:  unsigned',
        'policy:     signatures.required=warn',
        'pull:       pullable: project team requires signatures (policy signatures.required=warn for repositories team/prod/**): no signature from a trusted key; the artifact is not signed',
        '',
      ].join('\n'),
    );
    expect(await berth('artifact', 'show', 'team/prod/api:v2')).toMatchObject({ code: 1 });
    expect(await berth('artifact', 'show', 'api')).toMatchObject({ code: 2 });
    await berth('project', 'signatures', 'team', '--require', 'off');
  });
});
