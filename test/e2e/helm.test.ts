// End-to-end: the real `helm` v4 client (pinned in scripts/test-services.sh) against Berth with token auth on:
// a chart packaged, pushed to oci://, shown and pulled back byte for byte, its versions listed as tags, and
// deleted; anonymous and outsider access to the private project refused.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, send } from '../auth/support.js';
import { run, sha256 } from '../fixtures/image.js';
import { privateHome, requireGoTools } from '../helpers/go-tools.js';
import {
  CLIENT_TIMEOUT,
  type PrivateRegistry,
  refused,
  servedManifest,
  startPrivateRegistry,
  TIMEOUT,
  tagsOf,
} from './private-registry.js';

const tools = requireGoTools(['helm'], 'helm e2e tests');

/** Helm's OCI media types (helm.sh/helm/v4/pkg/registry/constants.go). */
const HELM = {
  config: 'application/vnd.cncf.helm.config.v1+json',
  chart: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
} as const;

type Who = 'member' | 'outsider' | 'anonymous';

interface Packaged {
  name: string;
  version: string;
  /** The .tgz helm package wrote. */
  file: string;
  bytes: Buffer;
}

describe.skipIf(!tools)('helm against Berth with token auth', () => {
  let registry: PrivateRegistry;
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  /** helm registry login files per identity (`--registry-config`). */
  const logins = {} as Record<Who, string>;

  function helm(who: Who, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
    return run(tools?.helm as string, [...args, '--registry-config', logins[who]], {
      env,
      cwd: tmp,
      timeoutMs: CLIENT_TIMEOUT,
    });
  }

  const oci = () => `oci://${registry.host}/${registry.project}`;
  const repo = (name: string) => `${registry.project}/${name}`;

  /** A minimal chart written by hand (one ConfigMap template), packaged with `helm package`. */
  async function packageChart(name: string, version: string): Promise<Packaged> {
    const dir = join(tmp, 'src', `${name}-${version}`, name);
    await mkdir(join(dir, 'templates'), { recursive: true });
    await writeFile(
      join(dir, 'Chart.yaml'),
      [
        'apiVersion: v2',
        `name: ${name}`,
        `description: ${name}, a chart for Berth's helm test`,
        'type: application',
        `version: ${version}`,
        'appVersion: "1.0.0"',
        '',
      ].join('\n'),
    );
    await writeFile(join(dir, 'values.yaml'), 'greeting: hello\n');
    await writeFile(
      join(dir, 'templates', 'configmap.yaml'),
      [
        'apiVersion: v1',
        'kind: ConfigMap',
        'metadata:',
        '  name: {{ .Release.Name }}-greeting',
        'data:',
        '  greeting: {{ .Values.greeting | quote }}',
        '',
      ].join('\n'),
    );
    const out = join(tmp, 'packages');
    await helm('member', 'package', dir, '--destination', out);
    const file = join(out, `${name}-${version}.tgz`);
    return { name, version, file, bytes: await readFile(file) };
  }

  /** `helm push` as the member; returns the digest helm reports. */
  async function push(chart: Packaged): Promise<string> {
    const { stdout, stderr } = await helm('member', 'push', chart.file, oci(), '--plain-http');
    const digest = /Digest: (sha256:[0-9a-f]{64})/.exec(`${stdout}\n${stderr}`)?.[1];
    expect(digest, `helm push output: ${stdout}${stderr}`).toBeDefined();
    return digest as string;
  }

  /** A new directory for `helm pull --destination` (helm does not create it). */
  async function destination(name: string): Promise<string> {
    const dir = join(tmp, 'pulls', name);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'berth-e2e-helm-'));
    env = await privateHome(join(tmp, 'home'));
    for (const who of ['member', 'outsider', 'anonymous'] as const) logins[who] = join(tmp, `${who}.json`);
    registry = await startPrivateRegistry();
    for (const who of ['member', 'outsider'] as const) {
      const { username, password } = registry[who];
      await helm(who, 'registry', 'login', registry.host, '-u', username, '-p', password, '--plain-http');
    }
  }, TIMEOUT);

  afterAll(async () => {
    await registry?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it(
    'refuses a login with a wrong password',
    async () => {
      const output = await refused(
        run(
          tools?.helm as string,
          [
            'registry',
            'login',
            registry.host,
            '-u',
            registry.member.username,
            '-p',
            'wrong password',
            '--plain-http',
            '--registry-config',
            join(tmp, 'wrong.json'),
          ],
          { env, timeoutMs: CLIENT_TIMEOUT },
        ),
      );
      expect(output).toMatch(/401|unauthorized/i);
    },
    TIMEOUT,
  );

  it(
    'pushes a chart: the digest helm reports is the one Berth serves, and its layer is the .tgz',
    async () => {
      const chart = await packageChart('hello', '0.1.0');
      const digest = await push(chart);

      const served = await servedManifest(registry, repo('hello'), '0.1.0');
      expect(served?.digest).toBe(digest);
      expect(`sha256:${sha256(served?.bytes as Buffer)}`).toBe(digest);
      const manifest = JSON.parse(served?.bytes.toString() as string) as {
        config: { mediaType: string };
        layers: Array<{ mediaType: string; digest: string; size: number }>;
      };
      expect(manifest.config.mediaType).toBe(HELM.config);
      expect(manifest.layers).toEqual([
        expect.objectContaining({
          mediaType: HELM.chart,
          digest: `sha256:${sha256(chart.bytes)}`,
          size: chart.bytes.length,
        }),
      ]);
    },
    TIMEOUT,
  );

  it(
    'pulls the chart back byte for byte, shows its Chart.yaml and renders it from the registry',
    async () => {
      const chart = await packageChart('pulled', '1.2.3');
      await push(chart);
      const out = await destination('pulled');
      const { stdout, stderr } = await helm(
        'member',
        'pull',
        `${oci()}/pulled`,
        '--version',
        '1.2.3',
        '--destination',
        out,
        '--plain-http',
      );
      const pulled = await readFile(join(out, 'pulled-1.2.3.tgz'));
      expect(sha256(pulled)).toBe(sha256(chart.bytes));
      const digest = (await servedManifest(registry, repo('pulled'), '1.2.3'))?.digest as string;
      expect(`${stdout}${stderr}`).toContain(digest);

      const { stdout: shown } = await helm(
        'member',
        'show',
        'chart',
        `${oci()}/pulled`,
        '--version',
        '1.2.3',
        '--plain-http',
      );
      expect(shown).toMatch(/^name: pulled$/m);
      expect(shown).toMatch(/^version: 1\.2\.3$/m);

      // Rendered straight from the registry, as an install would.
      const { stdout: rendered } = await helm(
        'member',
        'template',
        'demo',
        `${oci()}/pulled`,
        '--version',
        '1.2.3',
        '--set',
        'greeting=ahoy',
        '--plain-http',
      );
      expect(rendered).toMatch(/name: demo-greeting/);
      expect(rendered).toMatch(/greeting: "ahoy"/);
    },
    TIMEOUT,
  );

  it(
    'lists versions as tags, build metadata included (helm tags `+` as `_`)',
    async () => {
      const versions = ['0.1.0', '0.2.0', '0.2.0+build.7'];
      const digests = new Map<string, string>();
      for (const version of versions) {
        digests.set(version, await push(await packageChart('versions', version)));
      }
      expect(await tagsOf(registry, repo('versions'))).toEqual(['0.1.0', '0.2.0', '0.2.0_build.7']);

      const out = await destination('versions');
      await helm(
        'member',
        'pull',
        `${oci()}/versions`,
        '--version',
        '0.2.0+build.7',
        '--destination',
        out,
        '--plain-http',
      );
      const pushed = await readFile(join(tmp, 'packages', 'versions-0.2.0+build.7.tgz'));
      expect(await readFile(join(out, 'versions-0.2.0+build.7.tgz'))).toEqual(pushed);
      expect((await servedManifest(registry, repo('versions'), '0.2.0_build.7'))?.digest).toBe(
        digests.get('0.2.0+build.7'),
      );
    },
    TIMEOUT,
  );

  it(
    'deletes a chart version through the registry API; helm then cannot pull it',
    async () => {
      const chart = await packageChart('deleted', '0.1.0');
      const digest = await push(chart);
      const path = `/v2/${repo('deleted')}/manifests/${digest}`;
      const { username, password } = registry.outsider;
      const denied = await send(registry.berth.url, 'DELETE', path, {
        authorization: basic(username, password),
      });
      expect(denied.status, await denied.text()).toBe(403);

      const member = basic(registry.member.username, registry.member.password);
      const res = await send(registry.berth.url, 'DELETE', path, { authorization: member });
      expect(res.status, await res.text()).toBe(202);
      expect(await tagsOf(registry, repo('deleted'))).toEqual([]);

      const gone = await refused(
        helm(
          'member',
          'pull',
          `${oci()}/deleted`,
          '--version',
          '0.1.0',
          '-d',
          join(tmp, 'gone'),
          '--plain-http',
        ),
      );
      expect(gone).toMatch(/not found|404|manifest unknown/i);
    },
    TIMEOUT,
  );

  it(
    'refuses anonymous and outsider access to the private project',
    async () => {
      const chart = await packageChart('private', '0.1.0');
      await push(chart);
      const pull = async (who: Who) =>
        helm(
          who,
          'pull',
          `${oci()}/private`,
          '--version',
          '0.1.0',
          '-d',
          await destination(who),
          '--plain-http',
        );

      expect(await refused(pull('anonymous'))).toMatch(/401|unauthorized/i);
      expect(await refused(pull('outsider'))).toMatch(/403|denied|forbidden/i);
      const other = await packageChart('private', '0.2.0');
      for (const who of ['anonymous', 'outsider'] as const) {
        expect(await refused(helm(who, 'push', other.file, oci(), '--plain-http')), who).toMatch(
          /401|403|unauthorized|denied|forbidden/i,
        );
      }
      expect(await tagsOf(registry, repo('private'))).toEqual(['0.1.0']);
    },
    TIMEOUT,
  );
});
