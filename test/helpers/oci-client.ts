// Small, dependency-free helpers for talking to a registry under test with global fetch (and node:http / node:net
// for the raw cases fetch cannot express). Everything here is written from the OCI Distribution Spec v1.1 and the
// OCI Image Spec v1.1; nothing is specific to Berth's internals.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'vitest';

export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string; variant?: string };
}

export type Json = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------------------------
// Digests

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function sha512(data: Buffer | string): string {
  return `sha512:${createHash('sha512').update(data).digest('hex')}`;
}

/** Checks that `digest` (any supported algorithm) is the digest of `data`. */
export function digestMatches(digest: string, data: Buffer): boolean {
  if (digest.startsWith('sha256:')) return digest === sha256(data);
  if (digest.startsWith('sha512:')) return digest === sha512(data);
  return false;
}

/** A syntactically valid digest that (with overwhelming probability) names no content anywhere. */
export function randomDigest(): string {
  return sha256(randomBytes(32));
}

/** The OCI empty JSON blob `{}` and its well-known descriptor (image-spec v1.1 "Guidance for an Empty Descriptor"). */
export const EMPTY_JSON = Buffer.from('{}');
export const EMPTY_DESCRIPTOR: Descriptor = {
  mediaType: MT.ociEmpty,
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
};

// ---------------------------------------------------------------------------------------------------------------
// Names

let repoCounter = 0;

/** A fresh, valid repository name so tests sharing one server never see each other's content. */
export function uniqueRepo(prefix = 'test'): string {
  repoCounter += 1;
  return `${prefix}/r${repoCounter}-${randomBytes(4).toString('hex')}`;
}

export function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

export function descriptorOf(mediaType: string, data: Buffer, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType, digest: sha256(data), size: data.length, ...extra };
}

// ---------------------------------------------------------------------------------------------------------------
// Content builders

/** The bytes of a compact OCI image manifest of `config` and `layers` (tar+gzip), with nothing else. */
export function ociImageManifest(config: Buffer, layers: Buffer[]): Buffer {
  return jsonBytes({
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    config: descriptorOf(MT.ociConfig, config),
    layers: layers.map((layer) => descriptorOf(MT.ociLayer, layer)),
  });
}

export interface BuiltImage {
  config: Buffer;
  layers: Buffer[];
  /** Exact bytes of the manifest, as they will be pushed. */
  manifest: Buffer;
  json: Json;
  digest: string;
  mediaType: string;
}

export interface ImageOptions {
  layers?: number;
  layerSize?: number;
  flavour?: 'oci' | 'docker';
  annotations?: Record<string, string>;
  artifactType?: string;
  subject?: Descriptor;
  /** Pretty-print the manifest so exact-bytes round trips are really exercised. */
  indent?: number;
}

/** Builds (but does not push) a random image: a config blob, `layers` random layer blobs and a manifest. */
export function buildImage(opts: ImageOptions = {}): BuiltImage {
  const flavour = opts.flavour ?? 'oci';
  const layers = Array.from({ length: opts.layers ?? 2 }, () => randomBytes(opts.layerSize ?? 512));
  const config = jsonBytes({
    architecture: 'amd64',
    os: 'linux',
    config: { Labels: { nonce: randomBytes(8).toString('hex') } },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(l)) },
  });
  const mediaType = flavour === 'oci' ? MT.ociManifest : MT.dockerManifest;
  const json: Json = {
    schemaVersion: 2,
    mediaType,
    ...(opts.artifactType ? { artifactType: opts.artifactType } : {}),
    config: descriptorOf(flavour === 'oci' ? MT.ociConfig : MT.dockerConfig, config),
    layers: layers.map((l) => descriptorOf(flavour === 'oci' ? MT.ociLayer : MT.dockerLayer, l)),
    ...(opts.subject ? { subject: opts.subject } : {}),
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
  };
  const manifest = Buffer.from(JSON.stringify(json, null, opts.indent ?? 0));
  return { config, layers, manifest, json, digest: sha256(manifest), mediaType };
}

export interface BuiltArtifact {
  blobs: Buffer[];
  manifest: Buffer;
  json: Json;
  digest: string;
  mediaType: string;
}

/**
 * Builds an OCI 1.1 artifact manifest: artifactType set, config is the empty descriptor, one content layer.
 * `configMediaType` replaces the empty config (and then artifactType may be omitted) to test the referrers
 * fallback "artifactType is the config mediaType".
 */
export function buildArtifact(opts: {
  artifactType?: string;
  configMediaType?: string;
  subject?: Descriptor;
  annotations?: Record<string, string>;
}): BuiltArtifact {
  const content = randomBytes(64);
  const blobs: Buffer[] = [EMPTY_JSON, content];
  let config = EMPTY_DESCRIPTOR;
  if (opts.configMediaType) {
    const cfg = jsonBytes({ nonce: randomBytes(8).toString('hex') });
    blobs.push(cfg);
    config = descriptorOf(opts.configMediaType, cfg);
  }
  const json: Json = {
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    ...(opts.artifactType ? { artifactType: opts.artifactType } : {}),
    config,
    layers: [descriptorOf(opts.artifactType ?? 'application/octet-stream', content)],
    ...(opts.subject ? { subject: opts.subject } : {}),
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
  };
  const manifest = jsonBytes(json);
  return { blobs, manifest, json, digest: sha256(manifest), mediaType: MT.ociManifest };
}

export function buildIndex(
  children: Descriptor[],
  opts: {
    flavour?: 'oci' | 'docker';
    artifactType?: string;
    subject?: Descriptor;
    annotations?: Record<string, string>;
  } = {},
): { manifest: Buffer; json: Json; digest: string; mediaType: string } {
  const mediaType = opts.flavour === 'docker' ? MT.dockerList : MT.ociIndex;
  const json: Json = {
    schemaVersion: 2,
    mediaType,
    ...(opts.artifactType ? { artifactType: opts.artifactType } : {}),
    manifests: children,
    ...(opts.subject ? { subject: opts.subject } : {}),
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
  };
  const manifest = jsonBytes(json);
  return { manifest, json, digest: sha256(manifest), mediaType };
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP client

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: Buffer | string | ReadableStream<Uint8Array>;
}

export class OciClient {
  constructor(readonly baseUrl: string) {}

  /** Resolves a path or a (relative or absolute) Location header value against the registry. */
  url(pathOrLocation: string): string {
    return new URL(pathOrLocation, this.baseUrl).toString();
  }

  request(method: string, pathOrLocation: string, opts: RequestOptions = {}): Promise<Response> {
    const init: RequestInit & { duplex?: 'half' } = { method, headers: opts.headers, redirect: 'manual' };
    if (opts.body !== undefined) {
      init.body = opts.body;
      if (opts.body instanceof ReadableStream) init.duplex = 'half';
    }
    return fetch(this.url(pathOrLocation), init);
  }

  get(path: string, headers?: Record<string, string>): Promise<Response> {
    return this.request('GET', path, { headers });
  }

  head(path: string, headers?: Record<string, string>): Promise<Response> {
    return this.request('HEAD', path, { headers });
  }

  delete(path: string): Promise<Response> {
    return this.request('DELETE', path);
  }

  /** Path part of a Location header, resolved against the registry (Location MAY be absolute or relative). */
  locationPath(res: Response): string {
    const loc = res.headers.get('location');
    expect(loc, 'Location header').toBeTruthy();
    return new URL(loc as string, this.baseUrl).pathname;
  }

  /** POST /v2/<name>/blobs/uploads/ with Content-Length 0; returns the absolute upload URL. */
  async startUpload(repo: string): Promise<string> {
    const res = await this.request('POST', `/v2/${repo}/blobs/uploads/`);
    await res.arrayBuffer();
    expect(res.status).toBe(202);
    return this.url(res.headers.get('location') as string);
  }

  /** Single-POST monolithic upload; asserts 201 and returns the digest. */
  async pushBlob(repo: string, data: Buffer, digest = sha256(data)): Promise<string> {
    const res = await this.request('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, {
      headers: { 'content-type': 'application/octet-stream' },
      body: data,
    });
    const text = await res.text();
    expect(res.status, `push blob ${digest} to ${repo}: ${text}`).toBe(201);
    return digest;
  }

  async pushManifest(repo: string, ref: string, body: Buffer, mediaType: string): Promise<Response> {
    return this.request('PUT', `/v2/${repo}/manifests/${ref}`, {
      headers: { 'content-type': mediaType },
      body,
    });
  }

  /** Pushes a manifest and asserts 201. */
  async putManifest(repo: string, ref: string, body: Buffer, mediaType: string): Promise<Response> {
    const res = await this.pushManifest(repo, ref, body, mediaType);
    const text = await res.text();
    expect(res.status, `push manifest to ${repo}:${ref}: ${text}`).toBe(201);
    return res;
  }

  /** Pushes an image's blobs and its manifest under `ref` (a tag, or its digest by default). */
  async pushImage(repo: string, image: BuiltImage, ref = image.digest): Promise<BuiltImage> {
    await this.pushBlob(repo, image.config);
    for (const layer of image.layers) await this.pushBlob(repo, layer);
    await this.putManifest(repo, ref, image.manifest, image.mediaType);
    return image;
  }

  async pushArtifact(repo: string, artifact: BuiltArtifact, ref = artifact.digest): Promise<Response> {
    for (const blob of artifact.blobs) await this.pushBlob(repo, blob);
    return this.putManifest(repo, ref, artifact.manifest, artifact.mediaType);
  }

  /** Builds and pushes a random image; the quickest way to make a repository exist. */
  async pushRandomImage(repo: string, tag?: string, opts: ImageOptions = {}): Promise<BuiltImage> {
    return this.pushImage(repo, buildImage(opts), tag);
  }

  async tags(repo: string): Promise<string[]> {
    const res = await this.get(`/v2/${repo}/tags/list`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { tags: string[] | null };
    return body.tags ?? [];
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Assertions

export interface OciErrorBody {
  errors: Array<{ code: string; message?: string; detail?: unknown }>;
}

/** The media type of a response without parameters (`application/json; charset=utf-8` → `application/json`). */
export function mediaTypeOf(res: Response): string | undefined {
  return res.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
}

/**
 * Asserts an OCI error response (spec "Error Codes"): the status, a JSON body `{"errors":[{code, message, detail?}]}`
 * and that one of the errors carries (one of) the expected code(s).
 */
export async function expectOciError(
  res: Response,
  status: number | number[],
  code: string | string[],
): Promise<OciErrorBody> {
  const text = await res.text();
  const statuses = Array.isArray(status) ? status : [status];
  const codes = Array.isArray(code) ? code : [code];
  const where = `${res.url} → ${res.status} ${text}`;
  expect(statuses, where).toContain(res.status);
  // Exactly: no parameter (test/integration/media-types.test.ts).
  expect(res.headers.get('content-type'), where).toBe('application/json');
  const body = JSON.parse(text) as OciErrorBody;
  expect(Array.isArray(body.errors), where).toBe(true);
  expect(body.errors.length, where).toBeGreaterThan(0);
  for (const err of body.errors) {
    expect(err.code, where).toMatch(/^[A-Z_]+$/);
    if (err.message !== undefined) expect(typeof err.message, where).toBe('string');
  }
  expect(
    body.errors.some((e) => codes.includes(e.code)),
    `expected one of ${codes.join('|')}: ${where}`,
  ).toBe(true);
  return body;
}

export async function bytesOf(res: Response): Promise<Buffer> {
  return Buffer.from(await res.arrayBuffer());
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Raw HTTP (for what fetch will not send): test/helpers/raw-http.ts, re-exported here for the many tests that
// import it with the OCI client.
export { type RawResponse, rawRequest, sendThenDisconnect } from './raw-http.js';
export { randomBytes, randomUUID };
