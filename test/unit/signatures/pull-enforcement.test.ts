// PullEnforcement with a stub verifier and in-memory manifests: what it refuses, what it audits, and that an
// enforced pull verifies once per (digest, trust version, repository change), not once per request.
import { createHash } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { AuditInput } from '../../../src/events/types.js';
import type { ManifestRow } from '../../../src/metadata/index.js';
import { type Reader, RegistryError } from '../../../src/registry/index.js';
import type { ArtifactVerifier } from '../../../src/signatures/policy/pull-enforcement.js';
import { PullEnforcement } from '../../../src/signatures/policy/pull-enforcement.js';
import type { SignatureSource } from '../../../src/signatures/signature-source.js';
import type { ProjectSignaturePolicy } from '../../../src/signatures/trust/trust-service.js';

const REPO = 'team/app';

function manifest(body: object): ManifestRow {
  const content = Buffer.from(JSON.stringify(body));
  return {
    digest: `sha256:${createHash('sha256').update(content).digest('hex')}`,
    mediaType: (body as { mediaType: string }).mediaType,
    size: content.length,
    content,
  };
}

const layer = (n: number) => ({
  mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
  digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
  size: 10,
});
const image = (n: number) =>
  manifest({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: layer(9).digest, size: 2 },
    layers: [layer(n)],
  });

function reader(actor = 'alice', mayBypass = false): Reader {
  return {
    actor,
    actorKind: 'user',
    sourceIp: '10.0.0.1',
    userAgent: 'test',
    mayBypass: async () => mayBypass,
  };
}

describe('PullEnforcement', () => {
  let signed: Set<string>;
  let verifications: string[];
  let events: AuditInput[];
  let policy: ProjectSignaturePolicy;
  let rows: Map<string, ManifestRow>;
  /** child digest → holders (manifest digests), per kind */
  let references: Map<string, string[]>;
  let enforcement: PullEnforcement;

  const verify: ArtifactVerifier = async (_source, _repository, subject, trust) => {
    verifications.push(`${subject.digest}@${trust.version}`);
    const ok = signed.has(subject.digest) && trust.keys.length > 0;
    return {
      digest: subject.digest,
      verified: ok,
      signatures: signed.has(subject.digest)
        ? [
            {
              format: 'cosign',
              signatureDigest: 'sha256:sig',
              status: ok ? 'verified' : 'untrusted',
              ...(ok && { signer: 'ci' }),
            },
          ]
        : [],
    };
  };

  function setPolicy(mode: 'off' | 'warn' | 'enforce', version: number, keys = 1) {
    policy = {
      project: 'team',
      mode,
      repositories: null,
      covers: () => mode !== 'off',
      trust: {
        version,
        keys: Array.from({ length: keys }, (_, i) => ({ id: i + 1, name: 'ci', publicKeyPem: '' })),
        notation: [],
      },
    };
  }

  function store(row: ManifestRow, blobs: string[] = [], children: string[] = []) {
    rows.set(row.digest, row);
    for (const child of [...blobs.map((b) => `blob:${b}`), ...children.map((c) => `manifest:${c}`)]) {
      references.set(child, [...(references.get(child) ?? []), row.digest]);
    }
  }

  beforeEach(() => {
    signed = new Set();
    verifications = [];
    events = [];
    rows = new Map();
    references = new Map();
    setPolicy('enforce', 1);
    enforcement = new PullEnforcement({
      policy: async () => policy,
      source: {} as SignatureSource,
      manifests: {
        manifestByDigest: async (_repository, digest) => rows.get(digest),
        manifestsReferencing: async (_repository, child, kind) => references.get(`${kind}:${child}`) ?? [],
      },
      verify,
      isSignatureArtifact: (m) => m.artifactType === 'application/vnd.dev.cosign.artifact.sig.v1+json',
      audit: { record: (event) => events.push(event) },
    });
  });

  const pull = (row: ManifestRow, who = reader()) => enforcement.hooks.admitManifestRead(REPO, row, who);

  it('refuses an unsigned image with the rule, and audits the refusal', async () => {
    const row = image(1);
    const error = await pull(row).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as RegistryError).code).toBe('DENIED');
    expect((error as RegistryError).message).toBe(
      'project team requires signatures (policy signatures.required=enforce): no signature from a trusted key; the artifact is not signed',
    );
    expect(events).toMatchObject([
      { action: 'policy.refused', actor: 'alice', resource: `${REPO}@${row.digest}`, result: 'failure' },
    ]);
  });

  it('verifies once, however many pulls, until the repository or the trust changes', async () => {
    const row = image(1);
    signed.add(row.digest);
    for (let i = 0; i < 5; i++) await pull(row);
    expect(verifications).toEqual([`${row.digest}@1`]);
    enforcement.apply({ kind: 'tag-changed', repository: 'team/other', tag: 'x' });
    await pull(row);
    expect(verifications).toHaveLength(1);
    enforcement.apply({ kind: 'referrers-changed', repository: REPO, subject: row.digest });
    await pull(row);
    expect(verifications).toHaveLength(2);
    setPolicy('enforce', 2, 0); // the key was removed: a new trust version
    await expect(pull(row)).rejects.toThrow(/1 signature present, made by an unknown key/);
    expect(verifications).toEqual([`${row.digest}@1`, `${row.digest}@1`, `${row.digest}@2`]);
  });

  it('a signature pushed after the image: refused, then allowed', async () => {
    const row = image(1);
    await expect(pull(row)).rejects.toThrow(RegistryError);
    signed.add(row.digest);
    await expect(pull(row)).rejects.toThrow(RegistryError); // nothing told it yet
    enforcement.apply({ kind: 'tag-changed', repository: REPO, tag: `${row.digest.replace(':', '-')}.sig` });
    await pull(row);
  });

  it('signature artifacts and referrers stay pullable', async () => {
    const signature = manifest({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: layer(9).digest, size: 2 },
      layers: [],
    });
    const sbom = manifest({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/spdx+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: layer(9).digest, size: 2 },
      layers: [{ ...layer(3), mediaType: 'application/spdx+json' }],
      subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image(1).digest, size: 1 },
    });
    await pull(signature);
    await pull(sbom);
    expect(verifications).toEqual([]);
  });

  it('a runnable image does not escape the policy by carrying a subject', async () => {
    const smuggled = manifest({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: layer(9).digest, size: 2 },
      layers: [layer(4)],
      subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image(1).digest, size: 1 },
    });
    await expect(pull(smuggled)).rejects.toThrow(RegistryError);
  });

  it('a signed index makes its children pullable by digest', async () => {
    const child = image(1);
    const other = image(2);
    const index = manifest({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: child.mediaType, digest: child.digest, size: child.size }],
    });
    store(child);
    store(other);
    store(index, [], [child.digest]);
    signed.add(index.digest);
    await pull(index);
    await pull(child);
    await expect(pull(other)).rejects.toThrow(RegistryError);
    const view = await enforcement.assessment(REPO, child);
    expect(view).toEqual({ kind: 'verified', signer: 'ci', via: index.digest });
  });

  it('blobs: those of a signed image are served, those of unsigned images only refused', async () => {
    const signedImage = image(1);
    const unsigned = image(2);
    store(signedImage, [layer(1).digest, layer(9).digest]);
    store(unsigned, [layer(2).digest, layer(9).digest]);
    signed.add(signedImage.digest);
    const blob = (digest: string) => enforcement.hooks.admitBlobRead(REPO, digest, reader());
    await blob(layer(1).digest);
    await blob(layer(9).digest); // shared with the signed image
    await expect(blob(layer(2).digest)).rejects.toThrow(
      /it is part of no signed image in the repository \(1 image use it, none signed\)|1 image/,
    );
    await expect(blob('sha256:nothing')).rejects.toThrow(/part of no signed image in the repository$/);
  });

  it('warn: served, audited once per actor and artifact', async () => {
    setPolicy('warn', 1);
    const row = image(1);
    await pull(row);
    await pull(row);
    await pull(row, reader('bob'));
    expect(events.map((e) => [e.action, e.actor])).toEqual([
      ['policy.warned', 'alice'],
      ['policy.warned', 'bob'],
    ]);
  });

  it('bypass: served to those who may, audited once per actor and artifact', async () => {
    const row = image(1);
    await pull(row, reader('robot$mirror', true));
    await pull(row, reader('robot$mirror', true));
    await expect(pull(row, reader('robot$other', false))).rejects.toThrow(RegistryError);
    expect(events.map((e) => [e.action, e.actor, e.result])).toEqual([
      ['policy.bypassed', 'robot$mirror', 'success'],
      ['policy.refused', 'robot$other', 'failure'],
    ]);
  });

  it('off: nothing verified, nothing refused', async () => {
    setPolicy('off', 1);
    await pull(image(1));
    await enforcement.hooks.admitBlobRead(REPO, layer(1).digest, reader());
    expect(verifications).toEqual([]);
  });
});
