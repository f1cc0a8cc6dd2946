// End-to-end: the real `oras` client (oras.land, pinned in scripts/test-services.sh) against Berth with token
// auth on. Artifacts with an artifactType, referrers attached and discovered through the referrers API, tags,
// manifests fetched and deleted; every digest oras reports is the one Berth serves and the hash of the bytes.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, sha256 } from '../fixtures/image.js';
import { privateHome, requireGoTools } from '../helpers/go-tools.js';
import {
  CLIENT_TIMEOUT,
  type PrivateRegistry,
  referrersOf,
  refused,
  servedManifest,
  startPrivateRegistry,
  TIMEOUT,
  tagsOf,
} from './private-registry.js';

const tools = requireGoTools(['oras'], 'oras e2e tests');

const ARTIFACT_TYPE = 'application/vnd.berth.test.bundle';
const SIGNATURE_TYPE = 'application/vnd.berth.test.signature';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

interface PushResult {
  digest: string;
  mediaType: string;
  artifactType?: string;
}

describe.skipIf(!tools)('oras against Berth with token auth', () => {
  let registry: PrivateRegistry;
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  /** Credential files of oras logins: the member's, the outsider's, and one never logged in. */
  let memberAuth: string;
  let outsiderAuth: string;
  let anonymousAuth: string;

  /** Runs oras in `cwd`, with plain HTTP and the given credential file. */
  function orasIn(cwd: string, auth: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
    return run(tools?.oras as string, [...args, '--plain-http', '--registry-config', auth], {
      env,
      cwd,
      timeoutMs: CLIENT_TIMEOUT,
    });
  }

  /** Runs oras in the temp dir, with plain HTTP and the given credential file. */
  function oras(auth: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
    return orasIn(tmp, auth, ...args);
  }

  /** Runs an oras command that prints JSON (`--format json`) as the member, in `cwd`; returns what it reports. */
  async function orasJson(cwd: string, ...args: string[]): Promise<PushResult> {
    const { stdout } = await orasIn(cwd, memberAuth, ...args, '--format', 'json');
    return JSON.parse(stdout) as PushResult;
  }

  const ref = (repoAndRef: string) => `${registry.host}/${registry.project}/${repoAndRef}`;
  const repo = (name: string) => `${registry.project}/${name}`;

  /** Two files, one text and one random binary, in a fresh directory; returns the directory and their bytes. */
  async function writeFiles(
    name: string,
    binarySize = 100_000,
  ): Promise<{ dir: string; files: Record<string, Buffer> }> {
    const dir = join(tmp, name);
    await mkdir(dir, { recursive: true });
    const files = {
      'hello.txt': Buffer.from(`hello from ${name} ${randomBytes(4).toString('hex')}\n`),
      'data.bin': randomBytes(binarySize),
    };
    for (const [file, bytes] of Object.entries(files)) await writeFile(join(dir, file), bytes);
    return { dir, files };
  }

  /** `oras push` of the files as an artifact of ARTIFACT_TYPE; returns what oras reports. */
  async function push(repoAndTag: string, dir: string): Promise<PushResult> {
    return orasJson(
      dir,
      'push',
      ref(repoAndTag),
      '--artifact-type',
      ARTIFACT_TYPE,
      'hello.txt:text/plain',
      'data.bin',
    );
  }

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'berth-e2e-oras-'));
    env = await privateHome(join(tmp, 'home'));
    memberAuth = join(tmp, 'member.json');
    outsiderAuth = join(tmp, 'outsider.json');
    anonymousAuth = join(tmp, 'anonymous.json');
    registry = await startPrivateRegistry();
    const { member, outsider } = registry;
    await oras(memberAuth, 'login', registry.host, '-u', member.username, '-p', member.password);
    await oras(outsiderAuth, 'login', registry.host, '-u', outsider.username, '-p', outsider.password);
  }, TIMEOUT);

  afterAll(async () => {
    await registry?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it(
    'logs in with the token flow, and refuses a wrong password',
    async () => {
      const config = JSON.parse(await readFile(memberAuth, 'utf8')) as { auths: Record<string, unknown> };
      expect(Object.keys(config.auths)).toEqual([registry.host]);
      const output = await refused(
        oras(join(tmp, 'wrong.json'), 'login', registry.host, '-u', registry.member.username, '-p', 'wrong'),
      );
      expect(output).toMatch(/401|unauthorized/i);
    },
    TIMEOUT,
  );

  it(
    'pushes an artifact: the digest oras reports is the one Berth serves, with its artifactType and files',
    async () => {
      const { dir, files } = await writeFiles('push');
      const pushed = await push('bundle:v1', dir);
      expect(pushed.mediaType).toBe(OCI_MANIFEST);
      expect(pushed.artifactType).toBe(ARTIFACT_TYPE);

      const served = await servedManifest(registry, repo('bundle'), 'v1');
      expect(served?.digest).toBe(pushed.digest);
      expect(`sha256:${sha256(served?.bytes as Buffer)}`).toBe(pushed.digest);
      const manifest = JSON.parse(served?.bytes.toString() as string) as {
        artifactType: string;
        layers: Array<{ digest: string; mediaType: string; annotations: Record<string, string> }>;
      };
      expect(manifest.artifactType).toBe(ARTIFACT_TYPE);
      const layers = Object.fromEntries(
        manifest.layers.map((layer) => [layer.annotations['org.opencontainers.image.title'], layer]),
      );
      for (const [name, bytes] of Object.entries(files)) {
        expect(layers[name]?.digest, name).toBe(`sha256:${sha256(bytes)}`);
      }
      expect(layers['hello.txt']?.mediaType).toBe('text/plain');
    },
    TIMEOUT,
  );

  it(
    'pulls the artifact back byte for byte, a 24 MiB file included',
    async () => {
      const { dir, files } = await writeFiles('pull-src', 24 * 1024 * 1024);
      const pushed = await push('pulled:v1', dir);
      const out = join(tmp, 'pull-out');
      await oras(memberAuth, 'pull', ref('pulled:v1'), '-o', out);
      for (const [name, bytes] of Object.entries(files)) {
        const pulled = await readFile(join(out, name));
        expect(sha256(pulled), name).toBe(sha256(bytes));
      }
      // By digest too.
      const byDigest = join(tmp, 'pull-by-digest');
      await oras(memberAuth, 'pull', ref(`pulled@${pushed.digest}`), '-o', byDigest);
      expect(sha256(await readFile(join(byDigest, 'data.bin')))).toBe(sha256(files['data.bin'] as Buffer));
    },
    TIMEOUT,
  );

  it(
    'lists tags and repositories, and fetches the exact manifest bytes',
    async () => {
      const { dir } = await writeFiles('list');
      const pushed = await push('listed:v1', dir);
      await oras(memberAuth, 'tag', ref('listed:v1'), 'v2', 'latest');

      const { stdout: tags } = await oras(memberAuth, 'repo', 'tags', ref('listed'));
      expect(tags.trim().split('\n').sort()).toEqual(['latest', 'v1', 'v2']);
      expect(await tagsOf(registry, repo('listed'))).toEqual(['latest', 'v1', 'v2']);

      // The catalog, under the project: oras asks without credentials first, and logs in only when challenged.
      const { stdout: repos } = await oras(memberAuth, 'repo', 'ls', `${registry.host}/${registry.project}`);
      expect(repos.trim().split('\n')).toContain('listed');
      const { stdout: theirs } = await oras(outsiderAuth, 'repo', 'ls', registry.host);
      expect(theirs.trim().split('\n')).not.toContain(repo('listed'));

      const served = await servedManifest(registry, repo('listed'), 'v2');
      const { stdout: fetched } = await oras(memberAuth, 'manifest', 'fetch', ref('listed:v2'));
      expect(`sha256:${sha256(fetched)}`).toBe(pushed.digest);
      expect(Buffer.from(fetched)).toEqual(served?.bytes);

      const { stdout: descriptor } = await oras(
        memberAuth,
        'manifest',
        'fetch',
        '--descriptor',
        ref('listed:v1'),
      );
      expect(JSON.parse(descriptor)).toMatchObject({
        mediaType: OCI_MANIFEST,
        digest: pushed.digest,
        size: served?.bytes.length,
      });
    },
    TIMEOUT,
  );

  it(
    'attaches a referrer and discovers it through the referrers API (no fallback tag)',
    async () => {
      const { dir } = await writeFiles('subject');
      const subject = await push('signed:v1', dir);
      await writeFile(join(dir, 'signature.json'), JSON.stringify({ signed: subject.digest }));

      const attached = await orasJson(
        dir,
        'attach',
        ref('signed:v1'),
        '--artifact-type',
        SIGNATURE_TYPE,
        '--annotation',
        'org.example.signer=berth-test',
        'signature.json:application/json',
        '--distribution-spec',
        'v1.1-referrers-api',
      );
      expect(attached.artifactType).toBe(SIGNATURE_TYPE);

      // Berth holds the referrer with its subject, and its referrers API lists it.
      const served = await servedManifest(registry, repo('signed'), attached.digest);
      expect(`sha256:${sha256(served?.bytes as Buffer)}`).toBe(attached.digest);
      expect(JSON.parse(served?.bytes.toString() as string).subject.digest).toBe(subject.digest);
      const listed = await referrersOf(registry, repo('signed'), subject.digest);
      expect(listed).toEqual([
        expect.objectContaining({
          digest: attached.digest,
          artifactType: SIGNATURE_TYPE,
          annotations: expect.objectContaining({ 'org.example.signer': 'berth-test' }),
        }),
      ]);
      // A registry with the referrers API gets no `sha256-<hex>` fallback tag.
      expect(await tagsOf(registry, repo('signed'))).toEqual(['v1']);

      const discover = async (...flags: string[]) => {
        const out = await oras(
          memberAuth,
          'discover',
          ref('signed:v1'),
          '--distribution-spec',
          'v1.1-referrers-api',
          '--format',
          'json',
          ...flags,
        );
        return (JSON.parse(out.stdout) as { referrers: PushResult[] }).referrers;
      };
      const found = await discover();
      expect(found.map((r) => [r.digest, r.artifactType])).toEqual([[attached.digest, SIGNATURE_TYPE]]);
      // The artifactType filter (distribution-spec: applied by the registry, or the client when it is not).
      expect(await discover('--artifact-type', 'application/vnd.berth.other')).toEqual([]);
      expect(await discover('--artifact-type', SIGNATURE_TYPE)).toHaveLength(1);
    },
    TIMEOUT,
  );

  it(
    'builds a multi-platform index, and copies it with its referrers to another repository unchanged',
    async () => {
      const { dir: amdDir } = await writeFiles('index-amd64');
      const { dir: armDir } = await writeFiles('index-arm64');
      const platformPush = async (dir: string, tag: string, platform: string) => {
        return orasJson(
          dir,
          'push',
          ref(`indexed:${tag}`),
          '--artifact-type',
          ARTIFACT_TYPE,
          '--artifact-platform',
          platform,
          'data.bin',
        );
      };
      const amd64 = await platformPush(amdDir, 'amd64', 'linux/amd64');
      const arm64 = await platformPush(armDir, 'arm64', 'linux/arm64');
      await oras(memberAuth, 'manifest', 'index', 'create', ref('indexed:all'), 'amd64', 'arm64');
      const index = await servedManifest(registry, repo('indexed'), 'all');
      expect(index?.mediaType).toBe('application/vnd.oci.image.index.v1+json');
      const entries = (JSON.parse(index?.bytes.toString() as string) as { manifests: PushResult[] })
        .manifests;
      expect(entries.map((m) => m.digest)).toEqual([amd64.digest, arm64.digest]);
      await writeFile(join(amdDir, 'sbom.json'), '{"packages":[]}');
      const referrer = await orasJson(
        amdDir,
        'attach',
        ref(`indexed@${amd64.digest}`),
        '--artifact-type',
        SIGNATURE_TYPE,
        'sbom.json',
      );

      // Another repository of the project: blobs are mounted, not uploaded again (a token for both repositories).
      const { stdout: copied } = await run(
        tools?.oras as string,
        [
          'cp',
          '-r',
          ref('indexed:all'),
          ref('copied:all'),
          '--from-plain-http',
          '--to-plain-http',
          '--from-registry-config',
          memberAuth,
          '--to-registry-config',
          memberAuth,
        ],
        { env, cwd: tmp, timeoutMs: CLIENT_TIMEOUT },
      );
      expect(copied).toMatch(/^Mounted /m);
      const copy = await servedManifest(registry, repo('copied'), 'all');
      expect(copy?.digest).toBe(index?.digest);
      expect(copy?.bytes).toEqual(index?.bytes);
      expect((await referrersOf(registry, repo('copied'), amd64.digest)).map((r) => r.digest)).toEqual([
        referrer.digest,
      ]);

      // A blob of the copy, fetched by digest, is the file that was pushed.
      const data = await readFile(join(armDir, 'data.bin'));
      const blobDigest = `sha256:${sha256(data)}`;
      const fetched = join(tmp, 'fetched.bin');
      await oras(memberAuth, 'blob', 'fetch', ref(`copied@${blobDigest}`), '--output', fetched);
      expect(await readFile(fetched)).toEqual(data);
    },
    TIMEOUT,
  );

  it(
    'deletes manifests: a referrer, then its subject by tag; both are gone from Berth',
    async () => {
      const { dir } = await writeFiles('delete');
      const subject = await push('deleted:v1', dir);
      await writeFile(join(dir, 'note.txt'), 'a referrer to delete\n');
      const referrer = await orasJson(
        dir,
        'attach',
        ref('deleted:v1'),
        '--artifact-type',
        SIGNATURE_TYPE,
        'note.txt',
        '--distribution-spec',
        'v1.1-referrers-api',
      );

      // The outsider may neither delete nor see it.
      const denied = await refused(oras(outsiderAuth, 'manifest', 'delete', '--force', ref('deleted:v1')));
      expect(denied).toMatch(/403|denied|forbidden|401|unauthorized/i);
      expect((await servedManifest(registry, repo('deleted'), 'v1'))?.digest).toBe(subject.digest);

      await oras(memberAuth, 'manifest', 'delete', '--force', ref(`deleted@${referrer.digest}`));
      expect(await servedManifest(registry, repo('deleted'), referrer.digest)).toBeNull();
      expect(await referrersOf(registry, repo('deleted'), subject.digest)).toEqual([]);

      await oras(memberAuth, 'manifest', 'delete', '--force', ref('deleted:v1'));
      expect(await servedManifest(registry, repo('deleted'), subject.digest)).toBeNull();
      expect(await tagsOf(registry, repo('deleted'))).toEqual([]);
      const gone = await refused(oras(memberAuth, 'manifest', 'fetch', ref('deleted:v1')));
      expect(gone).toMatch(/not found|404|manifest unknown/i);
    },
    TIMEOUT,
  );

  it(
    'refuses anonymous and outsider access to the private project',
    async () => {
      const { dir } = await writeFiles('private');
      await push('private:v1', dir);

      const anonymousPull = await refused(
        oras(anonymousAuth, 'pull', ref('private:v1'), '-o', join(tmp, 'anon')),
      );
      expect(anonymousPull).toMatch(/401|unauthorized/i);
      const anonymousTags = await refused(oras(anonymousAuth, 'repo', 'tags', ref('private')));
      expect(anonymousTags).toMatch(/401|unauthorized/i);
      const anonymousPush = await refused(orasIn(dir, anonymousAuth, 'push', ref('private:v2'), 'hello.txt'));
      expect(anonymousPush).toMatch(/401|unauthorized/i);

      const outsiderPull = await refused(
        oras(outsiderAuth, 'pull', ref('private:v1'), '-o', join(tmp, 'eve')),
      );
      expect(outsiderPull).toMatch(/403|denied|forbidden|401|unauthorized/i);
      const outsiderPush = await refused(orasIn(dir, outsiderAuth, 'push', ref('private:v2'), 'hello.txt'));
      expect(outsiderPush).toMatch(/403|denied|forbidden|401|unauthorized/i);
      expect(await tagsOf(registry, repo('private'))).toEqual(['v1']);
    },
    TIMEOUT,
  );
});
