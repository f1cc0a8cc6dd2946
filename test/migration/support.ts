// Shared by the migration, bundle and backup tests: real peers (Distribution, skopeo), and byte-level pulls.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findExecutable, run } from '../fixtures/image.js';
import { distributionConfig, filesystemStorage } from '../helpers/distribution-config.js';
import { freePort } from '../helpers/ports.js';

export const DISTRIBUTION = findExecutable('docker-registry', ['/usr/bin']);

export function skopeo(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('skopeo', ['--insecure-policy', ...args], { timeoutMs: 90_000 });
}

/** `skopeo copy` between two references, without TLS checks. */
export function skopeoCopy(src: string, dest: string, ...flags: string[]) {
  return skopeo('copy', '-q', '--src-tls-verify=false', '--dest-tls-verify=false', ...flags, src, dest);
}

export function sha256(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export interface DistributionPeer {
  url: string;
  host: string;
  /** Its storage root (rootdirectory), holding docker/registry/v2. */
  root: string;
  stop(): Promise<void>;
}

/** Distribution's s3 storage driver settings (its `storage.s3` section). */
export interface DistributionS3 {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  /** Key prefix (without a leading slash): Distribution's rootdirectory. */
  rootDirectory: string;
}

/**
 * CNCF Distribution (Debian's docker-registry 2.8.2) on a free port, storing under `dir`/data, or with its s3
 * driver in a bucket (path-style, SigV4, as against Swift's s3api).
 */
export async function startDistributionIn(
  dir: string,
  options: { s3?: DistributionS3 } = {},
): Promise<DistributionPeer> {
  const port = await freePort();
  const root = join(dir, 'data');
  await mkdir(root, { recursive: true });
  const config = join(dir, 'config.yml');
  const { s3 } = options;
  const storage = s3
    ? [
        '  s3:',
        `    accesskey: "${s3.accessKeyId}"`,
        `    secretkey: "${s3.secretAccessKey}"`,
        `    region: ${s3.region}`,
        `    regionendpoint: ${s3.endpoint}`,
        `    bucket: ${s3.bucket}`,
        `    rootdirectory: /${s3.rootDirectory}`,
        '    secure: false',
        '    v4auth: true',
        '    chunksize: 5242880',
      ]
    : filesystemStorage(root);
  await writeFile(config, distributionConfig(storage, port));
  // aws-sdk-go cannot load a CA bundle into the s3 driver's HTTP transport and panics when one is named.
  const { AWS_CA_BUNDLE: _bundle, ...env } = process.env;
  const child: ChildProcess = spawn(DISTRIBUTION as string, ['serve', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
    const ok = await fetch(`${url}/v2/`).then(
      async (res) => {
        await res.arrayBuffer();
        return res.status === 200;
      },
      () => false,
    );
    if (ok) break;
    if (i > 600) throw new Error(`docker-registry did not answer: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    host: `127.0.0.1:${port}`,
    root,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** The exact bytes and content type a registry serves for a manifest. */
export async function getManifest(
  url: string,
  repository: string,
  reference: string,
): Promise<{ bytes: Buffer; type: string; status: number }> {
  const res = await fetch(`${url}/v2/${repository}/manifests/${reference}`, { headers: { accept: ACCEPT } });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { bytes, type: res.headers.get('content-type') ?? '', status: res.status };
}

export async function getBlobDigest(url: string, repository: string, digest: string): Promise<string> {
  const res = await fetch(`${url}/v2/${repository}/blobs/${digest}`);
  if (res.status !== 200) throw new Error(`GET blob ${repository}@${digest}: ${res.status}`);
  return sha256(Buffer.from(await res.arrayBuffer()));
}

export async function listTags(url: string, repository: string): Promise<string[]> {
  const res = await fetch(`${url}/v2/${repository}/tags/list?n=1000`);
  if (res.status === 404) return [];
  const body = (await res.json()) as { tags: string[] | null };
  return [...(body.tags ?? [])].sort();
}

export async function catalog(url: string): Promise<string[]> {
  const res = await fetch(`${url}/v2/_catalog?n=1000`);
  return ((await res.json()) as { repositories: string[] }).repositories.sort();
}

/**
 * Pulls `repository:reference` with skopeo (every platform) into a `dir:` copy, which keeps manifests byte for
 * byte, and returns the digest of every file it wrote, checked against its name: the top manifest's digest
 * under 'manifest.json', and the blobs and child manifests by digest.
 */
export async function pullWithSkopeo(
  host: string,
  repository: string,
  reference: string,
  into: string,
): Promise<Map<string, string>> {
  await skopeoCopy(`docker://${host}/${repository}:${reference}`, `dir:${into}`, '--all');
  const files = new Map<string, string>();
  for (const name of await readdir(into)) {
    if (name === 'version') continue;
    const digest = sha256(await readFile(join(into, name)));
    const named = name.replace(/\.manifest\.json$/, '');
    if (name !== 'manifest.json' && `sha256:${named}` !== digest) {
      throw new Error(`${into}/${name} holds ${digest}`);
    }
    files.set(name, digest);
  }
  return files;
}

/** Manifest digests reachable from a manifest (itself, children of an index) and all their blobs. */
export async function contentOf(
  url: string,
  repository: string,
  reference: string,
): Promise<{ manifests: Map<string, Buffer>; blobs: Set<string> }> {
  const manifests = new Map<string, Buffer>();
  const blobs = new Set<string>();
  const visit = async (ref: string) => {
    const { bytes, status } = await getManifest(url, repository, ref);
    if (status !== 200) throw new Error(`GET manifest ${repository}:${ref}: ${status}`);
    manifests.set(sha256(bytes), bytes);
    const json = JSON.parse(bytes.toString('utf8')) as {
      manifests?: { digest: string }[];
      config?: { digest: string };
      layers?: { digest: string }[];
    };
    for (const child of json.manifests ?? []) await visit(child.digest);
    if (json.config) blobs.add(json.config.digest);
    for (const layer of json.layers ?? []) blobs.add(layer.digest);
  };
  await visit(reference);
  return { manifests, blobs };
}

/** Uploads bytes as a blob (monolithic POST + PUT). */
export async function pushBlob(url: string, repository: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const started = await fetch(`${url}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
  await started.arrayBuffer();
  const location = new URL(started.headers.get('location') as string, url);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  await put.arrayBuffer();
  if (put.status !== 201) throw new Error(`blob upload to ${repository}: ${put.status}`);
  return digest;
}

/**
 * Pushes an artifact (an SBOM, a signature) whose `subject` is the given manifest, as oras and cosign do with
 * the referrers API: an empty config, one layer holding `content`. Returns its digest.
 */
export async function pushReferrer(
  url: string,
  repository: string,
  subject: { digest: string; size: number; mediaType: string },
  artifactType: string,
  content: string,
): Promise<string> {
  const empty = Buffer.from('{}');
  const layer = Buffer.from(content);
  await pushBlob(url, repository, empty);
  await pushBlob(url, repository, layer);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(empty), size: 2 },
      layers: [{ mediaType: 'application/octet-stream', digest: sha256(layer), size: layer.length }],
      subject,
    }),
  );
  const digest = sha256(manifest);
  const res = await fetch(`${url}/v2/${repository}/manifests/${digest}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  await res.arrayBuffer();
  if (res.status !== 201) throw new Error(`referrer push to ${repository}: ${res.status}`);
  return digest;
}

/** The digests the referrers API lists for a manifest. */
export async function referrers(url: string, repository: string, digest: string): Promise<string[]> {
  const res = await fetch(`${url}/v2/${repository}/referrers/${digest}`);
  const index = (await res.json()) as { manifests: { digest: string }[] };
  return index.manifests.map((m) => m.digest).sort();
}

/** An image of one random layer, pushed under `tag`: layer, config, then the manifest. */
export async function pushRandomImage(
  url: string,
  repository: string,
  tag: string,
  layerBytes: number,
): Promise<void> {
  const layer = await pushBlob(url, repository, randomBytes(layerBytes));
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer] } }),
  );
  const configDigest = await pushBlob(url, repository, config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: configDigest,
      size: config.length,
    },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer, size: layerBytes }],
  });
  const res = await fetch(`${url}/v2/${repository}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  await res.arrayBuffer();
  if (res.status !== 201) throw new Error(`push ${repository}:${tag}: ${res.status}`);
}
