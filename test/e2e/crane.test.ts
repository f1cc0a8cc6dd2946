// End-to-end: the real `crane` client (go-containerregistry, pinned in scripts/test-services.sh) against Berth
// with token auth on: push of an OCI layout, digest, manifest, blob, ls, tag, copy across repositories, pull
// back to a layout, catalog and delete; anonymous and outsider access to the private project refused.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyLayout } from '../auth/support.js';
import { blobPath, hashBlobs, run, sha256 } from '../fixtures/image.js';
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

const tools = requireGoTools(['crane'], 'crane e2e tests');

type Who = 'member' | 'outsider' | 'anonymous';

describe.skipIf(!tools)('crane against Berth with token auth', () => {
  let registry: PrivateRegistry;
  let tmp: string;
  /** One private HOME (and so DOCKER_CONFIG) per identity: crane keeps its login there. */
  const envs = {} as Record<Who, NodeJS.ProcessEnv>;
  let layout: string;
  let digest: string;

  function crane(who: Who, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
    return run(tools?.crane as string, [...args, '--insecure'], {
      env: envs[who],
      cwd: tmp,
      timeoutMs: CLIENT_TIMEOUT,
    });
  }

  /** `crane ARGS > file` (crane writes blobs to stdout, which `run` would decode as text). */
  async function craneToFile(file: string, ...args: string[]): Promise<void> {
    await run(
      'sh',
      ['-c', 'out=$1; shift; exec "$@" --insecure > "$out"', 'sh', file, tools?.crane as string, ...args],
      {
        env: envs.member,
        timeoutMs: CLIENT_TIMEOUT,
      },
    );
  }

  const ref = (repoAndRef: string) => `${registry.host}/${registry.project}/${repoAndRef}`;
  const repo = (name: string) => `${registry.project}/${name}`;

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'berth-e2e-crane-'));
    for (const who of ['member', 'outsider', 'anonymous'] as const) {
      envs[who] = await privateHome(join(tmp, who));
    }
    layout = join(tmp, 'layout');
    digest = await writeTinyLayout(layout, '1.0');
    registry = await startPrivateRegistry();
    const { member, outsider } = registry;
    await crane('member', 'auth', 'login', registry.host, '-u', member.username, '-p', member.password);
    await crane('outsider', 'auth', 'login', registry.host, '-u', outsider.username, '-p', outsider.password);
  }, TIMEOUT);

  afterAll(async () => {
    await registry?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it(
    'pushes an OCI layout: crane digest, crane manifest and Berth agree with the layout',
    async () => {
      const { stdout: pushed } = await crane('member', 'push', layout, ref('app:v1'));
      expect(pushed.trim()).toBe(`${ref('app')}@${digest}`);

      expect((await crane('member', 'digest', ref('app:v1'))).stdout.trim()).toBe(digest);
      const { stdout: manifest } = await crane('member', 'manifest', ref('app:v1'));
      expect(`sha256:${sha256(manifest)}`).toBe(digest);
      const served = await servedManifest(registry, repo('app'), 'v1');
      expect(served?.digest).toBe(digest);
      expect(Buffer.from(manifest)).toEqual(served?.bytes);

      // A layer, fetched by digest, is the layout's blob byte for byte.
      const layer = (JSON.parse(manifest) as { layers: Array<{ digest: string }> }).layers[0]
        ?.digest as string;
      const blobFile = join(tmp, 'layer.tgz');
      await craneToFile(blobFile, 'blob', ref(`app@${layer}`));
      expect(sha256(await readFile(blobFile))).toBe(layer.slice('sha256:'.length));
      expect(await readFile(blobFile)).toEqual(await readFile(blobPath(layout, layer)));
    },
    TIMEOUT,
  );

  it(
    'tags, lists tags, and copies to another repository of the project',
    async () => {
      await crane('member', 'push', layout, ref('listed:v1'));
      await crane('member', 'tag', ref('listed:v1'), 'v2');
      const { stdout: tags } = await crane('member', 'ls', ref('listed'));
      expect(tags.trim().split('\n').sort()).toEqual(['v1', 'v2']);
      expect(await tagsOf(registry, repo('listed'))).toEqual(['v1', 'v2']);

      await crane('member', 'copy', ref('listed:v2'), ref('copied:v1'));
      expect((await servedManifest(registry, repo('copied'), 'v1'))?.digest).toBe(digest);
      expect((await crane('member', 'digest', ref('copied:v1'))).stdout.trim()).toBe(digest);
    },
    TIMEOUT,
  );

  it(
    'pulls back to an OCI layout with the same manifest and byte-identical blobs',
    async () => {
      await crane('member', 'push', layout, ref('pulled:v1'));
      const out = join(tmp, 'pulled');
      await crane('member', 'pull', '--format', 'oci', ref('pulled:v1'), out);
      const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as {
        manifests: Array<{ digest: string }>;
      };
      expect(index.manifests.map((m) => m.digest)).toEqual([digest]);
      const pulled = await hashBlobs(out);
      for (const [name, hash] of pulled) expect(`sha256:${hash}`, `blob ${name} is corrupt`).toBe(name);
      expect(pulled).toEqual(await hashBlobs(layout));
    },
    TIMEOUT,
  );

  it(
    'round-trips a docker tarball: pushed back as a Docker schema 2 manifest Berth serves as such',
    async () => {
      await crane('member', 'push', layout, ref('tarball-src:v1'));
      const tarball = join(tmp, 'image.tar');
      await crane('member', 'pull', '--format', 'tarball', ref('tarball-src:v1'), tarball);
      const { stdout: pushed } = await crane('member', 'push', tarball, ref('tarball:v1'));
      const pushedDigest = pushed.trim().split('@')[1] as string;

      const served = await servedManifest(registry, repo('tarball'), 'v1');
      expect(served?.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
      expect(served?.digest).toBe(pushedDigest);
      expect(`sha256:${sha256(served?.bytes as Buffer)}`).toBe(pushedDigest);
      expect((await crane('member', 'digest', ref('tarball:v1'))).stdout.trim()).toBe(pushedDigest);
      // The same layer bytes under either manifest.
      const layersOf = (bytes: Buffer | undefined) =>
        (JSON.parse(bytes?.toString() as string) as { layers: Array<{ digest: string }> }).layers.map(
          (layer) => layer.digest,
        );
      const original = await servedManifest(registry, repo('tarball-src'), 'v1');
      expect(layersOf(served?.bytes)).toEqual(layersOf(original?.bytes));
    },
    TIMEOUT,
  );

  it(
    'lists the catalog: the member sees the private project, the outsider does not',
    async () => {
      await crane('member', 'push', layout, ref('cataloged:v1'));
      const { stdout: mine } = await crane('member', 'catalog', registry.host);
      expect(mine.trim().split('\n')).toContain(repo('cataloged'));
      const { stdout: theirs } = await crane('outsider', 'catalog', registry.host);
      expect(theirs.trim().split('\n')).not.toContain(repo('cataloged'));
    },
    TIMEOUT,
  );

  it(
    'deletes a manifest by digest; an outsider may not',
    async () => {
      await crane('member', 'push', layout, ref('deleted:v1'));
      const denied = await refused(crane('outsider', 'delete', ref(`deleted@${digest}`)));
      expect(denied).toMatch(/403|DENIED|forbidden/i);
      expect((await servedManifest(registry, repo('deleted'), 'v1'))?.digest).toBe(digest);

      await crane('member', 'delete', ref(`deleted@${digest}`));
      expect(await servedManifest(registry, repo('deleted'), digest)).toBeNull();
      expect(await tagsOf(registry, repo('deleted'))).toEqual([]);
      const gone = await refused(crane('member', 'digest', ref('deleted:v1')));
      expect(gone).toMatch(/MANIFEST_UNKNOWN|404|not found/i);
    },
    TIMEOUT,
  );

  it(
    'a robot account (robot$ci) logs in, pushes and pulls; it may not delete',
    async () => {
      const { secret } = await registry.berth.berth.accounts.createRobot({
        name: 'ci',
        permissions: [{ project: registry.project, actions: ['pull', 'push'] }],
        createdBy: 'root',
      });
      const robotEnv = await privateHome(join(tmp, 'robot'));
      const asRobot = (...args: string[]) =>
        run(tools?.crane as string, [...args, '--insecure'], { env: robotEnv, timeoutMs: CLIENT_TIMEOUT });
      await asRobot('auth', 'login', registry.host, '-u', 'robot$ci', '-p', secret);

      await asRobot('push', layout, ref('robot:v1'));
      expect((await asRobot('digest', ref('robot:v1'))).stdout.trim()).toBe(digest);
      expect((await servedManifest(registry, repo('robot'), 'v1'))?.digest).toBe(digest);
      const denied = await refused(asRobot('delete', ref(`robot@${digest}`)));
      expect(denied).toMatch(/403|DENIED/);
      expect(await tagsOf(registry, repo('robot'))).toEqual(['v1']);
    },
    TIMEOUT,
  );

  it(
    'refuses anonymous and outsider access to the private project',
    async () => {
      await crane('member', 'push', layout, ref('private:v1'));
      for (const args of [
        ['ls', ref('private')],
        ['manifest', ref('private:v1')],
        ['push', layout, ref('private:v2')],
      ]) {
        expect(await refused(crane('anonymous', ...args)), `anonymous ${args[0]}`).toMatch(
          /401|UNAUTHORIZED/i,
        );
        expect(await refused(crane('outsider', ...args)), `outsider ${args[0]}`).toMatch(
          /403|DENIED|401|UNAUTHORIZED/i,
        );
      }
      expect(await tagsOf(registry, repo('private'))).toEqual(['v1']);
    },
    TIMEOUT,
  );
});
