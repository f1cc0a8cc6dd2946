// What the replication tests share: artifacts built from random bytes and pushed with the client under test,
// a fault injector (a real HTTP proxy in front of a real registry that answers some requests itself or corrupts
// a blob's bytes), and byte-level comparisons of two registries' content.
import { createHash, randomBytes } from 'node:crypto';
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
} from 'node:http';
import { Readable } from 'node:stream';
import { expect } from 'vitest';
import type { Descriptor, Manifest, RegistryClient } from '../../src/replication/index.js';

export const OCI = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

export function digestOf(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export interface PushedImage {
  digest: string;
  manifest: Buffer;
  blobs: Descriptor[];
}

/** Pushes random layers, a config and their manifest (by `tag`, or by digest) with a client. */
export async function pushImage(
  client: RegistryClient,
  repository: string,
  opts: { tag?: string; layers?: Buffer[]; platform?: { os: string; architecture: string } } = {},
): Promise<PushedImage> {
  const layers = opts.layers ?? [randomBytes(2048), randomBytes(1024)];
  const platform = opts.platform ?? { os: 'linux', architecture: 'amd64' };
  const config = Buffer.from(
    JSON.stringify({ ...platform, rootfs: { type: 'layers' }, n: randomBytes(4).toString('hex') }),
  );
  const blobs: Descriptor[] = [
    { mediaType: OCI.config, digest: digestOf(config), size: config.length },
    ...layers.map((layer) => ({ mediaType: OCI.layer, digest: digestOf(layer), size: layer.length })),
  ];
  for (const [i, data] of [config, ...layers].entries()) {
    await client.pushBlob(repository, blobs[i] as Descriptor, async () => Readable.from([data]));
  }
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: OCI.manifest, config: blobs[0], layers: blobs.slice(1) }),
  );
  const digest = digestOf(manifest);
  await client.putManifest(repository, opts.tag ?? digest, { bytes: manifest, mediaType: OCI.manifest });
  return { digest, manifest, blobs };
}

export interface PushedIndex {
  digest: string;
  index: Buffer;
  children: PushedImage[];
}

/** A multi-arch index over two fresh images (linux/amd64 and linux/arm64). */
export async function pushIndex(
  client: RegistryClient,
  repository: string,
  tag: string,
): Promise<PushedIndex> {
  const platforms = [
    { os: 'linux', architecture: 'amd64' },
    { os: 'linux', architecture: 'arm64' },
  ];
  const children: PushedImage[] = [];
  for (const platform of platforms) children.push(await pushImage(client, repository, { platform }));
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI.index,
      manifests: children.map((child, i) => ({
        mediaType: OCI.manifest,
        digest: child.digest,
        size: child.manifest.length,
        platform: platforms[i],
      })),
    }),
  );
  await client.putManifest(repository, tag, { bytes: index, mediaType: OCI.index });
  return { digest: digestOf(index), index, children };
}

/** A referrer (an SBOM-like artifact) of `subject`, pushed with the client: a manifest with a subject. */
export async function pushReferrer(
  client: RegistryClient,
  repository: string,
  subject: Descriptor,
  artifactType = 'application/spdx+json',
): Promise<PushedImage> {
  const empty = Buffer.from('{}');
  const payload = Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', n: randomBytes(4).toString('hex') }));
  const blobs: Descriptor[] = [
    { mediaType: 'application/vnd.oci.empty.v1+json', digest: digestOf(empty), size: empty.length },
    { mediaType: artifactType, digest: digestOf(payload), size: payload.length },
  ];
  for (const [i, data] of [empty, payload].entries()) {
    await client.pushBlob(repository, blobs[i] as Descriptor, async () => Readable.from([data]));
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI.manifest,
      artifactType,
      config: blobs[0],
      layers: blobs.slice(1),
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    }),
  );
  const digest = digestOf(manifest);
  await client.putManifest(repository, digest, { bytes: manifest, mediaType: OCI.manifest });
  return { digest, manifest, blobs };
}

/** Reads a whole blob through the client (verified) into memory: test blobs are small. */
export async function blobBytes(
  client: RegistryClient,
  repository: string,
  blob: Descriptor,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await client.getBlob(repository, blob)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Asserts the target serves the manifest under the same digest with the same bytes, and every blob of it too. */
export async function expectSameManifest(
  source: { client: RegistryClient; repository: string },
  target: { client: RegistryClient; repository: string },
  reference: string,
): Promise<Manifest> {
  const a = (await source.client.getManifest(source.repository, reference)) as Manifest;
  const b = await target.client.getManifest(target.repository, reference);
  expect(b, `target lacks ${reference}`).toBeDefined();
  expect(b?.digest).toBe(a.digest);
  expect(b?.bytes.equals(a.bytes)).toBe(true);
  expect(b?.mediaType).toBe(a.mediaType);
  const parsed = JSON.parse(a.bytes.toString()) as {
    config?: Descriptor;
    layers?: Descriptor[];
    manifests?: Descriptor[];
  };
  for (const blob of [...(parsed.config ? [parsed.config] : []), ...(parsed.layers ?? [])]) {
    const [x, y] = await Promise.all([
      blobBytes(source.client, source.repository, blob),
      blobBytes(target.client, target.repository, blob),
    ]);
    expect(y.equals(x), `blob ${blob.digest}`).toBe(true);
  }
  for (const child of parsed.manifests ?? []) await expectSameManifest(source, target, child.digest);
  return a;
}

// ---------------------------------------------------------------------------------------------------------------
// Fault injection

export interface Seen {
  method: string;
  path: string;
  at: number;
  status: number;
  /** The request's Content-Range (an upload chunk's) and Range (a ranged GET's), as sent. */
  contentRange?: string | undefined;
  range?: string | undefined;
  /** Request body bytes that reached the proxy (grows while the body still comes in). */
  received: number;
  /** Response body bytes the proxy passed on from the registry. */
  served: number;
}

type Match = (method: string, path: string, headers: IncomingHttpHeaders) => boolean;

type Rule = {
  match: Match;
  times: number;
  /** 0: no answer (hang); -1: the connection is cut once the body is in. */
  status: number;
  headers: Record<string, string>;
  /** Cancel the upload session in the registry too (DELETE of the same URL) before answering: it is lost. */
  cancelUpload?: boolean;
};

type Rewrite = {
  match: Match;
  times: number;
  edit: (headers: IncomingHttpHeaders) => void;
};

/**
 * A real HTTP proxy in front of a real registry (Host preserved, so the registry's absolute Locations point back
 * here). Rules answer matching requests themselves (a 503, a 429 with Retry-After) a number of times; a
 * corruption flips one byte of a body on its way through. Everything else is forwarded untouched.
 */
export class FaultInjector {
  readonly seen: Seen[] = [];
  private rules: Rule[] = [];
  private rewrites: Rewrite[] = [];
  private corrupted = new Set<string>();
  private stalled = new Set<string>();
  private rangesIgnored = false;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(upstream: string): Promise<FaultInjector> {
    const target = new URL(upstream);
    let self: FaultInjector | undefined;
    const server = createServer((req, res) => self?.handle(req, res, target));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (typeof address !== 'object' || !address) throw new Error('no port');
    self = new FaultInjector(server, `http://127.0.0.1:${address.port}`);
    return self;
  }

  /** The next `times` requests matching answer `status` (with `headers`) without reaching the registry. */
  fail(match: Match, times: number, status: number, headers: Record<string, string> = {}): void {
    this.rules.push({ match, times, status, headers });
  }

  /** The next `times` requests matching are read whole, then their connection is cut without an answer. */
  cut(match: Match, times: number): void {
    this.rules.push({ match, times, status: -1, headers: {} });
  }

  /**
   * The next `times` requests matching (upload PATCHes) cancel their upload session in the registry (a DELETE
   * of the same URL, with the request's credentials), then answer `status`: the registry has lost the session.
   */
  failAndCancelUpload(match: Match, times: number, status: number): void {
    this.rules.push({ match, times, status, headers: {}, cancelUpload: true });
  }

  /** The registry's answers to the next `times` requests matching get their headers edited on the way. */
  rewrite(match: Match, times: number, edit: Rewrite['edit']): void {
    this.rewrites.push({ match, times, edit });
  }

  /** Matching requests are read and then left without an answer (a hung registry). */
  hang(match: Match): void {
    this.rules.push({ match, times: Number.POSITIVE_INFINITY, status: 0, headers: {} });
  }

  /** GETs whose path ends with `suffix` get their headers and first chunk, then nothing more (a stalled body). */
  stall(suffix: string): void {
    this.stalled.add(suffix);
  }

  /** Requests go on without their Range header: a registry that serves whole blobs only. */
  ignoreRanges(): void {
    this.rangesIgnored = true;
  }

  /** GETs whose path ends with `suffix` (`/blobs/<digest>`, `/manifests/v1`) get one byte flipped mid-body. */
  corrupt(suffix: string): void {
    this.corrupted.add(suffix);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(req: IncomingMessage, res: import('node:http').ServerResponse, target: URL): void {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const at = Date.now();
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(', ') : value;
    };
    const seen: Seen = {
      method,
      path,
      at,
      status: 0,
      contentRange: header('content-range'),
      range: header('range'),
      received: 0,
      served: 0,
    };
    req.on('data', (chunk: Buffer) => {
      seen.received += chunk.length;
    });
    const rule = this.rules.find((r) => r.times > 0 && r.match(method, path, req.headers));
    if (rule) {
      rule.times--;
      seen.status = rule.status;
      this.seen.push(seen);
      req.resume();
      if (rule.status === 0) return;
      if (rule.status === -1) {
        req.once('end', () => res.socket?.destroy());
        return;
      }
      const answer = () => {
        res.writeHead(rule.status, { 'content-type': 'application/json', ...rule.headers });
        res.end(
          JSON.stringify({
            errors: [{ code: rule.status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE', message: 'injected' }],
          }),
        );
      };
      if (!rule.cancelUpload) {
        answer();
        return;
      }
      const { authorization } = req.headers;
      const cancel = httpRequest({
        host: target.hostname,
        port: target.port,
        method: 'DELETE',
        path,
        headers: { host: req.headers.host, ...(authorization && { authorization }) },
      });
      cancel.on('response', (done) => {
        done.resume();
        done.on('end', answer);
      });
      cancel.on('error', () => res.destroy());
      cancel.end();
      return;
    }
    const headers = { ...req.headers };
    if (this.rangesIgnored) delete headers.range;
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method, path, headers },
      (answer) => {
        seen.status = answer.statusCode ?? 0;
        this.seen.push(seen);
        answer.on('data', (chunk: Buffer) => {
          seen.served += chunk.length;
        });
        const rewrite = this.rewrites.find((r) => r.times > 0 && r.match(method, path, req.headers));
        if (rewrite) {
          rewrite.times--;
          rewrite.edit(answer.headers);
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        const corrupt = [...this.corrupted].some((suffix) => path.endsWith(suffix));
        const stall = [...this.stalled].some((suffix) => path.endsWith(suffix));
        if (method === 'GET' && stall && answer.statusCode === 200) {
          answer.once('data', (chunk: Buffer) => {
            res.write(chunk);
            answer.pause();
          });
        } else if (method === 'GET' && corrupt && answer.statusCode === 200) {
          let offset = 0;
          const middle = Number(answer.headers['content-length'] ?? 2) >> 1;
          answer.on('data', (chunk: Buffer) => {
            if (middle >= offset && middle < offset + chunk.length) {
              chunk = Buffer.from(chunk);
              chunk[middle - offset] = (chunk[middle - offset] as number) ^ 0xff;
            }
            offset += chunk.length;
            res.write(chunk);
          });
          answer.on('end', () => res.end());
        } else answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  }
}
