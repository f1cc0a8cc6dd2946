// End-to-end: the real `cosign` v2 client (pinned in scripts/test-services.sh) against Berth with token auth on,
// fully offline: key pairs, no Rekor upload, no Fulcio, and a TUF mirror that cannot answer. Signatures stored
// the three ways cosign can (a `sha256-<hex>.sig` tag, an OCI 1.1 referrer, a Sigstore bundle referrer) are
// verified with the right key and refused with another; attestations, listing, download and clean as well.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Seeder, tinyImage } from '../auth/support.js';
import { run } from '../fixtures/image.js';
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

const tools = requireGoTools(['cosign'], 'cosign e2e tests');

/** What cosign stores (github.com/sigstore/cosign/v2/pkg/types, pkg/oci/static). */
const COSIGN = {
  simpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
  signatureArtifact: 'application/vnd.dev.cosign.artifact.sig.v1+json',
  signatureAnnotation: 'dev.cosignproject.cosign/signature',
  dsse: 'application/vnd.dsse.envelope.v1+json',
  bundle: 'application/vnd.dev.sigstore.bundle.v0.3+json',
} as const;

type Who = 'member' | 'outsider' | 'anonymous';

/** The claims `cosign verify` prints, one per verified signature. */
type Claims = Array<{ critical: { image: { 'docker-manifest-digest': string }; type: string } }>;

describe.skipIf(!tools)('cosign against Berth with token auth, offline', () => {
  let registry: PrivateRegistry;
  let tmp: string;
  /** One private HOME (so DOCKER_CONFIG, ~/.sigstore) per identity: cosign keeps its login there. */
  const envs = {} as Record<Who, NodeJS.ProcessEnv>;
  /** The key pair that signs, and another one that did not. */
  let signer: { key: string; pub: string };
  let stranger: { pub: string };
  /** The member pushes images over HTTP: the subject here is cosign. */
  let pusher: Seeder;

  function cosign(
    who: Who,
    args: string[],
    extraEnv: NodeJS.ProcessEnv = {},
  ): Promise<{ stdout: string; stderr: string }> {
    return run(tools?.cosign as string, args, {
      env: { ...envs[who], ...extraEnv },
      cwd: tmp,
      timeoutMs: CLIENT_TIMEOUT,
    });
  }

  /** Signs with the signer's key: no transparency log upload, plain HTTP, no prompts. */
  const sign = (who: Who, ref: string, flags: string[] = [], extraEnv: NodeJS.ProcessEnv = {}) =>
    cosign(
      who,
      ['sign', '--key', signer.key, '--tlog-upload=false', '--allow-http-registry', '--yes', ...flags, ref],
      extraEnv,
    );

  /** Verifies with a public key, without the transparency log; returns the verified claims. */
  async function verify(pub: string, ref: string, ...flags: string[]): Promise<Claims> {
    const { stdout } = await cosign('member', [
      'verify',
      '--key',
      pub,
      '--insecure-ignore-tlog=true',
      '--allow-http-registry',
      ...flags,
      ref,
    ]);
    return JSON.parse(stdout) as Claims;
  }

  /** Pushes a fresh tiny image to the project's `name` repository as `tag`; returns its digest reference. */
  async function pushImage(name: string, tag = 'v1'): Promise<{ ref: string; digest: string }> {
    const image = await pusher.pushImage(`${registry.project}/${name}`, tinyImage(), tag);
    return { ref: `${registry.host}/${registry.project}/${name}@${image.digest}`, digest: image.digest };
  }

  const repo = (name: string) => `${registry.project}/${name}`;
  const sigTag = (digest: string) => `${digest.replace(':', '-')}.sig`;

  async function generateKeyPair(dir: string): Promise<{ key: string; pub: string }> {
    await mkdir(dir, { recursive: true });
    await run(tools?.cosign as string, ['generate-key-pair'], {
      env: envs.member,
      cwd: dir,
      timeoutMs: CLIENT_TIMEOUT,
    });
    return { key: join(dir, 'cosign.key'), pub: join(dir, 'cosign.pub') };
  }

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'berth-e2e-cosign-'));
    for (const who of ['member', 'outsider', 'anonymous'] as const) {
      envs[who] = {
        ...(await privateHome(join(tmp, who))),
        // Encrypts and unlocks the private keys without a prompt.
        COSIGN_PASSWORD: 'berth test key password',
        // Nothing may reach the public Sigstore TUF repository: a mirror that refuses at once (the discard
        // port on loopback). cosign warns and goes on with the keys it was given.
        TUF_MIRROR: 'http://127.0.0.1:9',
      };
    }
    signer = await generateKeyPair(join(tmp, 'keys', 'signer'));
    stranger = await generateKeyPair(join(tmp, 'keys', 'stranger'));
    registry = await startPrivateRegistry();
    pusher = new Seeder(registry.berth.url, registry.member.username, registry.member.password);
    for (const who of ['member', 'outsider'] as const) {
      const { username, password } = registry[who];
      await cosign(who, ['login', registry.host, '-u', username, '-p', password]);
    }
  }, TIMEOUT);

  afterAll(async () => {
    await registry?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it(
    'signs into a sha256-<hex>.sig tag with the simple-signing layer; verifies with the key, not with another',
    async () => {
      const image = await pushImage('tagged');
      await sign('member', image.ref);

      expect(await tagsOf(registry, repo('tagged'))).toEqual([sigTag(image.digest), 'v1'].sort());
      const signature = await servedManifest(registry, repo('tagged'), sigTag(image.digest));
      const manifest = JSON.parse(signature?.bytes.toString() as string) as {
        layers: Array<{ mediaType: string; digest: string; annotations: Record<string, string> }>;
      };
      expect(manifest.layers).toHaveLength(1);
      expect(manifest.layers[0]?.mediaType).toBe(COSIGN.simpleSigning);
      expect(manifest.layers[0]?.annotations[COSIGN.signatureAnnotation]).toMatch(/^[A-Za-z0-9+/=]{60,}$/);
      // The signed payload, as Berth stores it, names the image's digest.
      const payload = await registry.admin.request(
        'GET',
        `/v2/${repo('tagged')}/blobs/${manifest.layers[0]?.digest}`,
      );
      const claims = JSON.parse(await payload.text()) as Claims[number];
      expect(claims.critical.image['docker-manifest-digest']).toBe(image.digest);

      const verified = await verify(signer.pub, image.ref);
      expect(verified.map((c) => c.critical.image['docker-manifest-digest'])).toEqual([image.digest]);
      // By tag as well: cosign resolves it to the same digest.
      const byTag = await verify(signer.pub, `${registry.host}/${repo('tagged')}:v1`);
      expect(byTag.map((c) => c.critical.image['docker-manifest-digest'])).toEqual([image.digest]);

      const wrongKey = await refused(verify(stranger.pub, image.ref));
      expect(wrongKey).toMatch(/no matching signatures|invalid signature/i);
    },
    TIMEOUT,
  );

  it(
    'lists (tree) and downloads the signatures it pushed',
    async () => {
      const image = await pushImage('listed');
      await sign('member', image.ref);
      const { stdout: tree } = await cosign('member', ['tree', '--allow-http-registry', image.ref]);
      expect(tree).toContain(`${registry.host}/${repo('listed')}:${sigTag(image.digest)}`);

      const { stdout } = await cosign('member', [
        'download',
        'signature',
        '--allow-http-registry',
        image.ref,
      ]);
      const downloaded = stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { Base64Signature: string; Payload: string });
      expect(downloaded).toHaveLength(1);
      const payload = JSON.parse(Buffer.from(downloaded[0]?.Payload as string, 'base64').toString('utf8'));
      expect(payload.critical.image['docker-manifest-digest']).toBe(image.digest);
    },
    TIMEOUT,
  );

  it(
    'attests a predicate into a .att tag and verifies the attestation with the key',
    async () => {
      const image = await pushImage('attested');
      const predicate = join(tmp, 'predicate.json');
      await writeFile(predicate, JSON.stringify({ built: 'by the berth e2e test' }));
      await cosign('member', [
        'attest',
        '--key',
        signer.key,
        '--tlog-upload=false',
        '--allow-http-registry',
        '--yes',
        '--type',
        'custom',
        '--predicate',
        predicate,
        image.ref,
      ]);
      const attTag = sigTag(image.digest).replace(/\.sig$/, '.att');
      expect(await tagsOf(registry, repo('attested'))).toContain(attTag);
      const stored = await servedManifest(registry, repo('attested'), attTag);
      const layers = JSON.parse(stored?.bytes.toString() as string).layers as Array<{ mediaType: string }>;
      expect(layers.map((layer) => layer.mediaType)).toEqual([COSIGN.dsse]);

      const verifyAttestation = (pub: string) =>
        cosign('member', [
          'verify-attestation',
          '--key',
          pub,
          '--insecure-ignore-tlog=true',
          '--allow-http-registry',
          '--type',
          'custom',
          image.ref,
        ]);
      const { stdout } = await verifyAttestation(signer.pub);
      const envelope = JSON.parse(stdout.trim().split('\n')[0] as string) as { payload: string };
      const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
      expect(statement.subject[0].digest.sha256).toBe(image.digest.slice('sha256:'.length));
      expect(await refused(verifyAttestation(stranger.pub))).toMatch(/no matching attestations|invalid/i);
    },
    TIMEOUT,
  );

  it(
    'copies a signed image with its signature to another repository (cosign copy); it verifies there',
    async () => {
      const image = await pushImage('copy-src');
      await sign('member', image.ref);
      const destination = `${registry.host}/${repo('copy-dest')}:v1`;
      await cosign('member', ['copy', '--allow-http-registry', image.ref, destination]);

      // cosign copy also tags each copied entity `sha256-<hex>`, to keep it from garbage collection.
      const entityTag = image.digest.replace(':', '-');
      expect(await tagsOf(registry, repo('copy-dest'))).toEqual(
        [entityTag, sigTag(image.digest), 'v1'].sort(),
      );
      expect((await servedManifest(registry, repo('copy-dest'), 'v1'))?.digest).toBe(image.digest);
      const source = await servedManifest(registry, repo('copy-src'), sigTag(image.digest));
      const copied = await servedManifest(registry, repo('copy-dest'), sigTag(image.digest));
      expect(copied?.digest).toBe(source?.digest);
      const verified = await verify(signer.pub, `${registry.host}/${repo('copy-dest')}@${image.digest}`);
      expect(verified.map((c) => c.critical.image['docker-manifest-digest'])).toEqual([image.digest]);
    },
    TIMEOUT,
  );

  it(
    'deletes the signature with cosign clean; the image stays and verify then finds no signature',
    async () => {
      const image = await pushImage('cleaned');
      await sign('member', image.ref);
      expect(await tagsOf(registry, repo('cleaned'))).toContain(sigTag(image.digest));

      // cosign clean reports a failed delete on stderr but exits 0.
      const { stderr: denied } = await cosign('outsider', [
        'clean',
        '--type',
        'signature',
        '--force',
        '--allow-http-registry',
        image.ref,
      ]);
      expect(denied).toMatch(/could not delete[\s\S]*(403|DENIED|401|UNAUTHORIZED)/i);
      expect(await tagsOf(registry, repo('cleaned'))).toContain(sigTag(image.digest));

      await cosign('member', ['clean', '--type', 'signature', '--force', '--allow-http-registry', image.ref]);
      expect(await tagsOf(registry, repo('cleaned'))).toEqual(['v1']);
      expect((await servedManifest(registry, repo('cleaned'), 'v1'))?.digest).toBe(image.digest);
      expect(await refused(verify(signer.pub, image.ref))).toMatch(/no signatures found/i);
    },
    TIMEOUT,
  );

  it(
    'stores the signature as an OCI 1.1 referrer (no tag) and verifies it through the referrers API',
    async () => {
      const image = await pushImage('referred');
      // The referrers mode is experimental in cosign v2: COSIGN_EXPERIMENTAL turns it on.
      await sign('member', image.ref, ['--registry-referrers-mode=oci-1-1'], { COSIGN_EXPERIMENTAL: '1' });
      // Only the image's own tag: the signature is found through /v2/<name>/referrers/<digest>.
      expect(await tagsOf(registry, repo('referred'))).toEqual(['v1']);
      const referrers = await referrersOf(registry, repo('referred'), image.digest);
      expect(referrers).toEqual([expect.objectContaining({ artifactType: COSIGN.signatureArtifact })]);
      const stored = await servedManifest(registry, repo('referred'), referrers[0]?.digest as string);
      const manifest = JSON.parse(stored?.bytes.toString() as string);
      expect(manifest.subject.digest).toBe(image.digest);
      expect(manifest.layers[0].mediaType).toBe(COSIGN.simpleSigning);

      const verified = await verify(signer.pub, image.ref, '--experimental-oci11');
      expect(verified.map((c) => c.critical.image['docker-manifest-digest'])).toEqual([image.digest]);
      expect(await refused(verify(stranger.pub, image.ref, '--experimental-oci11'))).toMatch(
        /no matching signatures|invalid signature|no signatures found/i,
      );
      const { stdout: tree } = await cosign('member', [
        'tree',
        '--allow-http-registry',
        '--experimental-oci11',
        image.ref,
      ]);
      expect(tree).toContain(referrers[0]?.digest as string);
    },
    TIMEOUT,
  );

  it(
    'signs in the Sigstore bundle format (an OCI 1.1 referrer) and verifies it offline',
    async () => {
      const image = await pushImage('bundled');
      await sign('member', image.ref, ['--new-bundle-format']);
      expect(await tagsOf(registry, repo('bundled'))).toEqual(['v1']);
      const referrers = await referrersOf(registry, repo('bundled'), image.digest);
      expect(referrers).toEqual([expect.objectContaining({ artifactType: COSIGN.bundle })]);

      // A trusted root with no authorities: the key is the only trust, as with --key elsewhere.
      const trustedRoot = join(tmp, 'trusted-root.json');
      await writeFile(
        trustedRoot,
        JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1' }),
      );
      const flags = ['--new-bundle-format', '--trusted-root', trustedRoot];
      const verified = await verify(signer.pub, image.ref, ...flags);
      expect(verified.map((c) => c.critical.image['docker-manifest-digest'])).toEqual([image.digest]);
      expect(await refused(verify(stranger.pub, image.ref, ...flags))).toMatch(
        /no matching signatures|invalid signature|verif/i,
      );
    },
    TIMEOUT,
  );

  it(
    'refuses anonymous and outsider signing and verifying in the private project',
    async () => {
      const image = await pushImage('private');
      expect(await refused(sign('anonymous', image.ref))).toMatch(/401|UNAUTHORIZED/i);
      expect(await refused(sign('outsider', image.ref))).toMatch(/403|DENIED|401|UNAUTHORIZED/i);
      expect(await tagsOf(registry, repo('private'))).toEqual(['v1']);

      await sign('member', image.ref);
      const verifyAs = (who: Who) =>
        cosign(who, [
          'verify',
          '--key',
          signer.pub,
          '--insecure-ignore-tlog=true',
          '--allow-http-registry',
          image.ref,
        ]);
      expect(await refused(verifyAs('anonymous'))).toMatch(/401|UNAUTHORIZED/i);
      expect(await refused(verifyAs('outsider'))).toMatch(/403|DENIED|401|UNAUTHORIZED/i);
    },
    TIMEOUT,
  );
});
