// signatures.required over HTTP: a project trusts a key; under enforce, manifests (GET/HEAD, tag or digest)
// and blobs of artifacts without a valid signature from a trusted key are refused with DENIED naming the
// policy and what was missing; signatures, SBOMs and referrers stay pullable; a signed index makes its
// children pullable; warn serves and audits; bypass-policy robots and system administrators pull anyway,
// audited. Signatures are made by the real cosign (tag scheme, offline: no transparency log), and forged
// ones are built from them by hand.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuthorization } from '../../src/auth/index.js';
import { run } from '../fixtures/image.js';
import { privateHome, requireGoTools } from '../helpers/go-tools.js';
import {
  type BuiltImage,
  buildArtifact,
  buildImage,
  buildIndex,
  descriptorOf,
  jsonBytes,
  MT,
  OciClient,
  type RequestOptions,
  sha256,
} from '../helpers/oci-client.js';
import { startBerth, type TestBerth } from '../helpers/server.js';
import { LEAF_SUBJECT, makePki, payloadFor, signJws } from '../unit/signatures/notation-test-signer.js';

const tools = requireGoTools(['cosign'], 'signature integration tests (cosign signs)');
const ADMIN_PASSWORD = 'signatures admin password';
const ADMIN = basicAuthorization('admin', ADMIN_PASSWORD);
const PASSPHRASE = 'key passphrase';
const ACCEPT = [MT.ociManifest, MT.ociIndex, MT.dockerManifest, MT.dockerList].join(', ');

/** An OciClient that sends Basic credentials with every request. */
class AuthedClient extends OciClient {
  constructor(
    baseUrl: string,
    private readonly authorization: string,
  ) {
    super(baseUrl);
  }
  override request(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    return super.request(method, path, {
      ...opts,
      headers: { authorization: this.authorization, ...opts.headers },
    });
  }
}

describe.skipIf(!tools)('signatures.required', () => {
  let server: TestBerth;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let admin: AuthedClient;
  let reader: AuthedClient;
  let mirror: AuthedClient;
  let trustedKeyId: number;
  let counter = 0;
  const repo = (project = 'team') => `${project}/app${++counter}`;

  async function api(method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: { authorization: ADMIN, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  }

  async function trustKey(name: string, file: string): Promise<number> {
    const res = await api('POST', '/projects/team/trust/keys', {
      name,
      publicKeyPem: await readFile(file, 'utf8'),
    });
    const body = (await res.json()) as { id: number };
    expect(res.status, JSON.stringify(body)).toBe(201);
    return body.id;
  }

  async function cosign(args: string[]): Promise<void> {
    await run(tools?.cosign as string, args, { env, cwd: dir, timeoutMs: 60_000 });
  }

  /** cosign sign --key …: the tag scheme's `sha256-<hex>.sig`, no transparency log. */
  async function sign(repository: string, digest: string, key = 'trusted'): Promise<void> {
    await cosign([
      'sign',
      '--key',
      join(dir, key, 'cosign.key'),
      '--tlog-upload=false',
      '--allow-http-registry',
      '--yes',
      `${server.host}/${repository}@${digest}`,
    ]);
  }

  const pull = (client: OciClient, repository: string, reference: string, method = 'GET') =>
    client.request(method, `/v2/${repository}/manifests/${reference}`, { headers: { accept: ACCEPT } });

  async function expectServed(client: OciClient, repository: string, reference: string): Promise<void> {
    const res = await pull(client, repository, reference);
    const text = await res.text();
    expect(res.status, text).toBe(200);
  }

  async function expectDenied(client: OciClient, repository: string, reference: string, missing: string) {
    for (const method of ['GET', 'HEAD']) {
      const res = await pull(client, repository, reference, method);
      expect(res.status).toBe(403);
      if (method === 'GET') {
        const body = (await res.json()) as { errors: { code: string; message: string; detail: unknown }[] };
        expect(body.errors[0]?.code).toBe('DENIED');
        expect(body.errors[0]?.message).toBe(
          `project team requires signatures (policy signatures.required=enforce): ${missing}`,
        );
      } else {
        await res.arrayBuffer();
      }
    }
  }

  async function auditOf(action: string, resource: string) {
    return (await server.berth.audit.query({ action, resourcePrefix: resource, limit: 100 })).filter(
      (event) => event.resource === resource,
    );
  }

  const UNSIGNED = 'no signature from a trusted key; the artifact is not signed';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-signatures-'));
    env = { ...(await privateHome(join(dir, 'home'))), COSIGN_PASSWORD: PASSPHRASE };
    server = await startBerth({ config: { 'auth.enabled': true } });
    await server.berth.accounts.setPassword('admin', ADMIN_PASSWORD);
    await server.berth.accounts.createProject({ name: 'team' });
    await server.berth.accounts.createProject({ name: 'soft' });
    const robot = async (name: string, actions: ('pull' | 'bypass-policy')[]) => {
      const { secret } = await server.berth.accounts.createRobot({
        name,
        permissions: [
          { project: 'team', actions },
          { project: 'soft', actions: ['pull'] },
        ],
        createdBy: 'admin',
      });
      return new AuthedClient(server.url, basicAuthorization(`robot$${name}`, secret));
    };
    reader = await robot('reader', ['pull']);
    mirror = await robot('mirror', ['pull', 'bypass-policy']);
    admin = new AuthedClient(server.url, ADMIN);
    for (const key of ['trusted', 'other']) {
      await run('mkdir', ['-p', join(dir, key)]);
      await run(tools?.cosign as string, ['generate-key-pair'], { env, cwd: join(dir, key) });
    }
    await cosign(['login', server.host, '-u', 'admin', '-p', ADMIN_PASSWORD]);
    trustedKeyId = await trustKey('ci', join(dir, 'trusted', 'cosign.pub'));
    const policy = await api('PUT', '/projects/team/trust/policy', { required: 'enforce' });
    expect(policy.status).toBe(200);
    expect((await api('PUT', '/projects/soft/trust/policy', { required: 'warn' })).status).toBe(200);
  });

  afterAll(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves an image signed by the trusted key, its blobs too, and shows who signed it', async () => {
    const name = repo();
    const image = await admin.pushImage(name, buildImage(), 'v1');
    await sign(name, image.digest);
    await expectServed(reader, name, 'v1');
    await expectServed(reader, name, image.digest);
    const layer = await reader.get(`/v2/${name}/blobs/${sha256(image.layers[0] as Buffer)}`);
    expect(layer.status).toBe(200);
    await layer.arrayBuffer();
    const view = await api('GET', `/projects/team/repositories/${name.slice(5)}/artifacts/v1`);
    expect(await view.json()).toMatchObject({
      digest: image.digest,
      signature: {
        status: 'verified',
        verifiedBy: ['ci'],
        signatures: [{ format: 'cosign', status: 'verified' }],
      },
      policy: { mode: 'enforce', covers: true, pullable: true, reason: 'signed by ci' },
    });
  });

  it('refuses an unsigned image (GET and HEAD, by tag and digest) and its own blobs, naming the rule', async () => {
    const name = repo();
    const image = await admin.pushImage(name, buildImage(), 'v1');
    await expectDenied(reader, name, 'v1', UNSIGNED);
    await expectDenied(reader, name, image.digest, UNSIGNED);
    const layer = `/v2/${name}/blobs/${sha256(image.layers[0] as Buffer)}`;
    const refused = await reader.get(layer);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { errors: { message: string }[] }).errors[0]?.message).toBe(
      'project team requires signatures (policy signatures.required=enforce): it is part of no signed image in ' +
        'the repository (1 image use it, none signed)',
    );
    // Clients pushing ask whether a blob exists: HEAD still answers.
    expect((await reader.head(layer)).status).toBe(200);
    const refusals = await auditOf('policy.refused', `${name}@${image.digest}`);
    expect(refusals.length).toBeGreaterThanOrEqual(4);
    expect(refusals[0]).toMatchObject({ actor: 'robot$reader', result: 'failure' });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(
      /berth_pull_policy_refusals_total\{policy="signatures.required",project="team"\} \d+/,
    );
  });

  it('refuses an image signed by a key the project does not trust', async () => {
    const name = repo();
    const image = await admin.pushImage(name, buildImage(), 'v1');
    await sign(name, image.digest, 'other');
    await expectDenied(
      reader,
      name,
      'v1',
      'no signature from a trusted key; 1 signature present, made by an unknown key',
    );
    const view = await api('GET', `/projects/team/repositories/${name.slice(5)}/artifacts/v1`);
    expect(await view.json()).toMatchObject({
      signature: { status: 'untrusted' },
      policy: { pullable: false },
    });
  });

  /** The signed image's `.sig` manifest and its payload layer. */
  async function signatureOf(name: string, image: BuiltImage) {
    const tag = `${image.digest.replace(':', '-')}.sig`;
    const res = await admin.get(`/v2/${name}/manifests/${tag}`, { accept: MT.ociManifest });
    const manifest = Buffer.from(await res.arrayBuffer());
    const json = JSON.parse(manifest.toString()) as {
      layers: { digest: string; mediaType: string; annotations: Record<string, string> }[];
      config: { digest: string };
    };
    const layer = json.layers[0] as {
      digest: string;
      mediaType: string;
      annotations: Record<string, string>;
    };
    const payload = Buffer.from(await (await admin.get(`/v2/${name}/blobs/${layer.digest}`)).arrayBuffer());
    return { manifest, json, layer, payload, mediaType: res.headers.get('content-type') as string };
  }

  it('refuses a signature made over another digest (a copied .sig)', async () => {
    const name = repo();
    const signed = await admin.pushImage(name, buildImage(), 'good');
    await sign(name, signed.digest);
    const other = await admin.pushImage(name, buildImage(), 'bad');
    const { manifest, mediaType } = await signatureOf(name, signed);
    await admin.putManifest(name, `${other.digest.replace(':', '-')}.sig`, manifest, mediaType);
    const res = await pull(reader, name, 'bad');
    expect(res.status).toBe(403);
    const message = ((await res.json()) as { errors: { message: string }[] }).errors[0]?.message;
    expect(message).toMatch(/no signature from a trusted key; 1 signature present, invalid \(.+\)$/);
    await expectServed(reader, name, 'good');
  });

  it('refuses a tampered payload (the signature no longer matches it)', async () => {
    const name = repo();
    const signed = await admin.pushImage(name, buildImage(), 'good');
    await sign(name, signed.digest);
    const other = await admin.pushImage(name, buildImage(), 'bad');
    const { json, layer, payload, mediaType } = await signatureOf(name, signed);
    // The payload now names the other image; the signature is still the one over the original payload.
    const forged = Buffer.from(payload.toString().replace(signed.digest, other.digest));
    expect(forged.equals(payload)).toBe(false);
    await admin.pushBlob(name, forged);
    const forgedManifest = jsonBytes({
      ...json,
      layers: [{ ...descriptorOf(layer.mediaType, forged), annotations: layer.annotations }],
    });
    await admin.putManifest(name, `${other.digest.replace(':', '-')}.sig`, forgedManifest, mediaType);
    const res = await pull(reader, name, 'bad');
    expect(res.status).toBe(403);
    await res.arrayBuffer();
    // Against public keys alone, a signature that fits no trusted key over these bytes cannot be told apart
    // from one by an unknown key: the verifier may call it either; it is never verified.
    const view = (await (
      await api('GET', `/projects/team/repositories/${name.slice(5)}/artifacts/bad`)
    ).json()) as { signature: { status: string }; policy: { pullable: boolean } };
    expect(['untrusted', 'invalid']).toContain(view.signature.status);
    expect(view.policy.pullable).toBe(false);
  });

  it('refuses from the next request on once the key is no longer trusted, and serves again when it is', async () => {
    const name = repo();
    const image = await admin.pushImage(name, buildImage(), 'v1');
    await sign(name, image.digest);
    await expectServed(reader, name, 'v1');
    expect((await api('DELETE', `/projects/team/trust/keys/${trustedKeyId}`)).status).toBe(204);
    try {
      await expectDenied(
        reader,
        name,
        'v1',
        'no signature from a trusted key; 1 signature present, made by an unknown key',
      );
    } finally {
      trustedKeyId = await trustKey('ci', join(dir, 'trusted', 'cosign.pub'));
    }
    await expectServed(reader, name, 'v1');
  });

  it('refuses an image until its signature is pushed, then serves it', async () => {
    const name = repo();
    const image = await admin.pushImage(name, buildImage(), 'v1');
    await expectDenied(reader, name, 'v1', UNSIGNED);
    await sign(name, image.digest);
    await expectServed(reader, name, 'v1');
  });

  it('a signed index makes its children pullable by digest; an unsigned index does not', async () => {
    const name = repo();
    const amd = await admin.pushImage(name, buildImage());
    const arm = await admin.pushImage(name, buildImage());
    const children = [amd, arm].map((image, i) => ({
      ...descriptorOf(image.mediaType, image.manifest),
      platform: { os: 'linux', architecture: i === 0 ? 'amd64' : 'arm64' },
    }));
    const index = buildIndex(children);
    await admin.putManifest(name, 'multi', index.manifest, index.mediaType);
    await expectDenied(reader, name, amd.digest, UNSIGNED);
    await sign(name, index.digest);
    await expectServed(reader, name, 'multi');
    await expectServed(reader, name, amd.digest);
    await expectServed(reader, name, arm.digest);
    const layer = await reader.get(`/v2/${name}/blobs/${sha256(arm.layers[1] as Buffer)}`);
    expect(layer.status).toBe(200);
    await layer.arrayBuffer();
    const loose = await admin.pushImage(name, buildImage());
    await expectDenied(reader, name, loose.digest, UNSIGNED);
  });

  it('serves a blob an unsigned image shares with a signed one, and refuses the unsigned one’s own', async () => {
    const name = repo();
    const signed = await admin.pushImage(name, buildImage(), 'signed');
    await sign(name, signed.digest);
    const shared = signed.layers[0] as Buffer;
    const own = buildImage({ layers: 1 }).layers[0] as Buffer;
    const config = jsonBytes({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [] },
    });
    await admin.pushBlob(name, config);
    await admin.pushBlob(name, own);
    const unsigned = jsonBytes({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: descriptorOf(MT.ociConfig, config),
      layers: [descriptorOf(MT.ociLayer, shared), descriptorOf(MT.ociLayer, own)],
    });
    await admin.putManifest(name, 'unsigned', unsigned, MT.ociManifest);
    await expectDenied(reader, name, 'unsigned', UNSIGNED);
    const sharedRes = await reader.get(`/v2/${name}/blobs/${sha256(shared)}`);
    expect(sharedRes.status).toBe(200);
    expect(Buffer.from(await sharedRes.arrayBuffer()).equals(shared)).toBe(true);
    const ownRes = await reader.get(`/v2/${name}/blobs/${sha256(own)}`);
    expect(ownRes.status).toBe(403);
    await ownRes.arrayBuffer();
  });

  it('keeps signatures, SBOMs and referrers pullable under enforce', async () => {
    const name = repo();
    const image = await admin.pushImage(name, buildImage(), 'v1');
    await sign(name, image.digest, 'other');
    await expectServed(reader, name, `${image.digest.replace(':', '-')}.sig`);
    const sbom = buildArtifact({
      artifactType: 'application/spdx+json',
      subject: descriptorOf(image.mediaType, image.manifest),
    });
    await admin.pushArtifact(name, sbom);
    await expectServed(reader, name, sbom.digest);
    const content = await reader.get(`/v2/${name}/blobs/${sha256(sbom.blobs[1] as Buffer)}`);
    expect(content.status).toBe(200);
    await content.arrayBuffer();
    const referrers = await reader.get(`/v2/${name}/referrers/${image.digest}`);
    expect(referrers.status).toBe(200);
    await referrers.arrayBuffer();
  });

  it('serves a bypass-policy robot and a system administrator, audited once per actor and artifact', async () => {
    const name = repo();
    const image = await admin.pushImage(name, buildImage(), 'v1');
    await expectServed(mirror, name, 'v1');
    await expectServed(mirror, name, image.digest);
    await expectServed(admin, name, 'v1');
    const blob = await mirror.get(`/v2/${name}/blobs/${sha256(image.layers[0] as Buffer)}`);
    expect(blob.status).toBe(200);
    await blob.arrayBuffer();
    const bypasses = await auditOf('policy.bypassed', `${name}@${image.digest}`);
    expect(bypasses.map((event) => event.actor).sort()).toEqual(['admin', 'robot$mirror']);
    expect(bypasses[0]?.detail).toBe(
      `project team requires signatures (policy signatures.required=enforce): ${UNSIGNED}`,
    );
    await expectDenied(reader, name, 'v1', UNSIGNED);
  });

  it('Notary Project: a JWS signature chaining to a trusted root, by a trusted identity, is enough', async () => {
    const pki = await makePki();
    const stranger = await makePki(undefined, {}, 'stranger');
    const store = await api('POST', '/projects/team/trust/notation', {
      name: 'acme',
      rootCertificatesPem: [pki.root.pem],
      trustedIdentities: [`x509.subject: ${LEAF_SUBJECT}`],
    });
    expect(store.status, await store.clone().text()).toBe(201);
    const storeId = ((await store.json()) as { id: number }).id;
    try {
      /** A notation signature referrer (artifactType application/vnd.cncf.notary.signature) of `image`. */
      const notarize = async (name: string, image: BuiltImage, by: typeof pki) => {
        const subject = { mediaType: image.mediaType, digest: image.digest, size: image.manifest.length };
        const envelope = Buffer.from(signJws({ pki: by, payload: payloadFor(subject) }));
        const config = Buffer.from('{}');
        await admin.pushBlob(name, config);
        await admin.pushBlob(name, envelope);
        const manifest = jsonBytes({
          schemaVersion: 2,
          mediaType: MT.ociManifest,
          artifactType: 'application/vnd.cncf.notary.signature',
          config: descriptorOf('application/vnd.oci.empty.v1+json', config),
          layers: [descriptorOf('application/jose+json', envelope)],
          subject: descriptorOf(image.mediaType, image.manifest),
        });
        await admin.putManifest(name, sha256(manifest), manifest, MT.ociManifest);
      };
      const name = repo();
      const trusted = await admin.pushImage(name, buildImage(), 'trusted');
      const foreign = await admin.pushImage(name, buildImage(), 'foreign');
      await expectDenied(reader, name, 'trusted', UNSIGNED);
      await notarize(name, trusted, pki);
      await notarize(name, foreign, stranger);
      await expectServed(reader, name, 'trusted');
      const view = await api('GET', `/projects/team/repositories/${name.slice(5)}/artifacts/trusted`);
      expect(await view.json()).toMatchObject({
        signature: { status: 'verified', signatures: [{ format: 'notation-jws', status: 'verified' }] },
      });
      const res = await pull(reader, name, 'foreign');
      expect(res.status).toBe(403);
      await res.arrayBuffer();
    } finally {
      expect((await api('DELETE', `/projects/team/trust/notation/${storeId}`)).status).toBe(204);
    }
  });

  it('shows an artifact of a single-segment repository (project library) and of library/<name> apart', async () => {
    const bare = `solo${++counter}`;
    const bareImage = await admin.pushImage(bare, buildImage(), 'v1');
    const nestedImage = await admin.pushImage(`library/${bare}`, buildImage(), 'v1');
    expect(nestedImage.digest).not.toBe(bareImage.digest);
    // Both are in library; the nested name wins the path, the bare one answers when only it exists.
    const both = await api('GET', `/projects/library/repositories/${bare}/artifacts/v1`);
    expect(await both.json()).toMatchObject({ repository: `library/${bare}`, digest: nestedImage.digest });
    const only = `solo${++counter}`;
    const onlyImage = await admin.pushImage(only, buildImage(), 'v1');
    const view = await api('GET', `/projects/library/repositories/${only}/artifacts/v1`);
    expect(await view.json()).toMatchObject({
      repository: only,
      digest: onlyImage.digest,
      signature: { status: 'unsigned' },
    });
    const missing = await api('GET', `/projects/library/repositories/solo-none/artifacts/v1`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ errors: [{ code: 'NAME_UNKNOWN' }] });
  });

  it('warn: serves an unsigned image and audits it', async () => {
    const name = repo('soft');
    const image = await admin.pushImage(name, buildImage(), 'v1');
    await expectServed(reader, name, 'v1');
    const warnings = await auditOf('policy.warned', `${name}@${image.digest}`);
    expect(warnings).toMatchObject([
      {
        actor: 'robot$reader',
        result: 'success',
        detail: `project soft requires signatures (policy signatures.required=warn): ${UNSIGNED}`,
      },
    ]);
  });
});
