// Signatures made by the real cosign binary (offline: sign-blob / attest-blob with --tlog-upload=false, no
// registry) verify here, and a signature made by the node:crypto fixtures verifies with cosign's own
// verify-blob: the fixtures' wire format is cosign's, not merely Berth's idea of it.
// (skopeo writes sigstore signatures only to a registry: the pull-path end-to-end tests cover skopeo.)
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyArtifact } from '../../../src/signatures/index.js';
import { privateHome, requireGoTools } from '../../helpers/go-tools.js';
import {
  bundleReferrer,
  dsseBundle,
  MemorySource,
  makeSigner,
  messageSignatureBundle,
  pushImage,
  signatureLayer,
  simpleSigningPayload,
  statement,
  tagSignature,
} from './cosign-fixtures.js';

const run = promisify(execFile);
const tools = requireGoTools(['cosign'], 'cosign real-tool signature tests');
const REPOSITORY = 'library/app';

describe.skipIf(!tools)('signatures made by the cosign binary', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let trust: { version: number; keys: { id: number; name: string; publicKeyPem: string }[]; notation: [] };

  const cosign = async (...args: string[]) =>
    (await run(tools?.cosign as string, args, { cwd: dir, env, timeout: 60_000 })).stdout;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-cosign-real-'));
    env = { ...(await privateHome(join(dir, 'home'))), COSIGN_PASSWORD: 'berth-test-password' };
    await cosign('generate-key-pair');
    trust = {
      version: 1,
      keys: [{ id: 1, name: 'cosign-key', publicKeyPem: await readFile(join(dir, 'cosign.pub'), 'utf8') }],
      notation: [],
    };
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('verifies cosign sign-blob’s signature over a simple-signing payload in a .sig layer', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const payload = simpleSigningPayload(image.digest);
    await writeFile(join(dir, 'payload.json'), payload);
    const signature = (
      await cosign('sign-blob', '--key', 'cosign.key', '--tlog-upload=false', '--yes', 'payload.json')
    ).trim();
    tagSignature(source, image.digest, [signatureLayer(source, { payload, signature })]);
    const verdict = await verifyArtifact(source, REPOSITORY, image, trust);
    expect(verdict.signatures).toMatchObject([
      { format: 'cosign', status: 'verified', signer: 'cosign-key' },
    ]);
  });

  it('verifies cosign’s messageSignature bundle over the manifest bytes', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    await writeFile(join(dir, 'manifest.json'), source.blobs.get(image.digest) as Uint8Array);
    await cosign(
      'sign-blob',
      '--key',
      'cosign.key',
      '--tlog-upload=false',
      '--yes',
      '--new-bundle-format',
      '--bundle',
      'message.bundle.json',
      'manifest.json',
    );
    const bundle = await readFile(join(dir, 'message.bundle.json'), 'utf8');
    expect(JSON.parse(bundle)).toMatchObject({
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      messageSignature: {},
    });
    bundleReferrer(source, image, bundle);
    const verdict = await verifyArtifact(source, REPOSITORY, image, trust);
    expect(verdict.signatures).toMatchObject([
      { format: 'sigstore-bundle', status: 'verified', signer: 'cosign-key' },
    ]);
  });

  it('verifies cosign’s DSSE bundle whose in-toto subject is the manifest, with the cosign signature predicate', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    await writeFile(join(dir, 'manifest.json'), source.blobs.get(image.digest) as Uint8Array);
    await writeFile(join(dir, 'predicate.json'), '{}');
    await cosign(
      'attest-blob',
      '--key',
      'cosign.key',
      '--tlog-upload=false',
      '--yes',
      '--new-bundle-format',
      '--bundle',
      'dsse.bundle.json',
      '--type',
      'https://sigstore.dev/cosign/sign/v1',
      '--predicate',
      'predicate.json',
      'manifest.json',
    );
    bundleReferrer(source, image, await readFile(join(dir, 'dsse.bundle.json'), 'utf8'));
    const verdict = await verifyArtifact(source, REPOSITORY, image, trust);
    expect(verdict.signatures).toMatchObject([
      { format: 'sigstore-bundle', status: 'verified', signer: 'cosign-key' },
    ]);
    // the same envelope for another image is refused
    const other = pushImage(source);
    bundleReferrer(source, other, await readFile(join(dir, 'dsse.bundle.json'), 'utf8'));
    const refused = await verifyArtifact(source, REPOSITORY, other, trust);
    expect(refused.signatures).toMatchObject([
      { status: 'invalid', reason: expect.stringContaining('subjects do not include') },
    ]);
  });

  it('cosign verify-blob accepts a fixture signature (ECDSA P-256, ASN.1 DER, base64) over a fixture payload', async () => {
    const signer = makeSigner('ecdsa-p256');
    const payload = simpleSigningPayload(`sha256:${'ab'.repeat(32)}`);
    await writeFile(join(dir, 'fixture-payload.json'), payload);
    await writeFile(join(dir, 'fixture.pub'), signer.publicKeyPem);
    const signature = Buffer.from(signer.sign(new TextEncoder().encode(payload))).toString('base64');
    await cosign(
      'verify-blob',
      '--key',
      'fixture.pub',
      '--signature',
      signature,
      '--insecure-ignore-tlog=true',
      'fixture-payload.json',
    );
  });

  it('cosign verify-blob accepts the fixture bundles (messageSignature, and DSSE with the sign predicate)', async () => {
    const signer = makeSigner('ecdsa-p256');
    const source = new MemorySource();
    const image = pushImage(source);
    await writeFile(join(dir, 'fixture-manifest.json'), source.blobs.get(image.digest) as Uint8Array);
    await writeFile(join(dir, 'fixture.pub'), signer.publicKeyPem);
    // an empty trusted root keeps cosign offline (key-based verification needs no Fulcio or Rekor roots)
    await writeFile(
      join(dir, 'trusted-root.json'),
      '{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}',
    );
    const offline = [
      '--key',
      'fixture.pub',
      '--new-bundle-format',
      '--trusted-root',
      'trusted-root.json',
      '--insecure-ignore-tlog=true',
    ];
    const message = messageSignatureBundle(signer, source.blobs.get(image.digest) as Uint8Array);
    await writeFile(join(dir, 'message.fixture.json'), JSON.stringify(message));
    await cosign('verify-blob', ...offline, '--bundle', 'message.fixture.json', 'fixture-manifest.json');
    await writeFile(
      join(dir, 'dsse.fixture.json'),
      JSON.stringify(dsseBundle([signer], statement(image.digest))),
    );
    await cosign(
      'verify-blob-attestation',
      ...offline,
      '--bundle',
      'dsse.fixture.json',
      '--type',
      'https://sigstore.dev/cosign/sign/v1',
      'fixture-manifest.json',
    );
  });
});
