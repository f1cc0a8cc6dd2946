// Raw HTTP and filesystem helpers for the fault tests: requests whose bodies the test writes piece by piece
// (so it can stop half-way, lie about sizes or drop the connection), and looks at what landed in the data dir.
import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import http, { type Agent, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import type { TestBerth } from '../helpers/server.js';
import { sha256 } from '../integration/oci-client.js';

export { randomBytes };

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

let repoCounter = 0;

/** A repository name no other test uses. */
export function uniqueRepo(prefix: string): string {
  repoCounter++;
  return `fault/${prefix}-${process.pid}-${repoCounter}-${randomBytes(3).toString('hex')}`;
}

export interface OpenRequest {
  /** Writes a piece of the body; resolves once it is handed to the socket. */
  write(data: Buffer): Promise<void>;
  /** Ends the body (after an optional last piece) and waits for the response. */
  end(data?: Buffer): Promise<Reply>;
  /** Destroys the socket: the server sees the client vanish mid-request. */
  abort(): void;
  /** The response; rejects when the connection dies first. Never an unhandled rejection. */
  reply: Promise<Reply>;
}

/**
 * Starts a request and sends its headers at once, leaving the body to the caller. Without `agent`, the
 * request gets a connection of its own, closed after the response.
 */
export function openRequest(
  base: string,
  method: string,
  path: string,
  headers: OutgoingHttpHeaders = {},
  agent?: Agent,
): OpenRequest {
  const url = new URL(path, base);
  const req = http.request(url, { method, headers, agent: agent ?? false });
  const reply = new Promise<Reply>((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('error', reject);
      res.once('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
  });
  reply.catch(() => {});
  req.flushHeaders();
  return {
    write: (data) =>
      new Promise<void>((resolve, reject) => {
        req.write(data, (error) => (error ? reject(error) : resolve()));
      }),
    end: async (data) => {
      if (data) req.end(data);
      else req.end();
      return reply;
    },
    abort: () => {
      req.destroy();
    },
    reply,
  };
}

/** One whole request. */
export async function send(
  base: string,
  method: string,
  path: string,
  options: { headers?: OutgoingHttpHeaders; body?: Buffer; agent?: Agent } = {},
): Promise<Reply> {
  const headers: OutgoingHttpHeaders = { ...options.headers };
  if (options.body !== undefined) {
    headers['content-length'] ??= options.body.length;
    headers['content-type'] ??= 'application/octet-stream';
  } else if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
    headers['content-length'] ??= 0;
  }
  return openRequest(base, method, path, headers, options.agent).end(options.body);
}

/** The `code` of the first error in an OCI error body. */
export function errorCode(reply: Reply): string | undefined {
  try {
    const body = JSON.parse(reply.body.toString('utf8')) as { errors?: { code?: string }[] };
    return body.errors?.[0]?.code;
  } catch {
    return undefined;
  }
}

/** A short description of a reply for assertion messages. */
export function describeReply(reply: Reply): string {
  return `${reply.status} ${JSON.stringify(reply.headers)} ${reply.body.toString('utf8').slice(0, 500)}`;
}

/** Opens an upload session; returns its path (the Location) and id. */
export async function startSession(base: string, repo: string): Promise<{ location: string; id: string }> {
  const reply = await send(base, 'POST', `/v2/${repo}/blobs/uploads/`);
  if (reply.status !== 202) throw new Error(`POST upload: ${describeReply(reply)}`);
  const location = new URL(String(reply.headers.location), base);
  const id = location.pathname.split('/').pop() ?? '';
  return { location: `${location.pathname}${location.search}`, id };
}

/** `location` with `digest` added to its query. */
export function withDigest(location: string, digest: string): string {
  const url = new URL(location, 'http://placeholder.invalid');
  url.searchParams.set('digest', digest);
  return `${url.pathname}${url.search}`;
}

export function patchChunk(base: string, location: string, chunk: Buffer, start: number): Promise<Reply> {
  return send(base, 'PATCH', location, {
    headers: { 'content-range': `${start}-${start + chunk.length - 1}` },
    body: chunk,
  });
}

/** Pushes a blob monolithically (POST ?digest=); returns the reply. */
export function pushBlob(base: string, repo: string, data: Buffer): Promise<Reply> {
  return send(base, 'POST', `/v2/${repo}/blobs/uploads/?digest=${sha256(data)}`, { body: data });
}

export function getBlob(base: string, repo: string, digest: string, method = 'GET'): Promise<Reply> {
  return send(base, method, `/v2/${repo}/blobs/${digest}`);
}

export interface StoredFile {
  /** Path relative to the directory listed, with forward slashes. */
  path: string;
  size: number;
}

/** Every regular file under `dir`, recursively; empty when `dir` does not exist. */
export async function filesUnder(dir: string): Promise<StoredFile[]> {
  const found: StoredFile[] = [];
  const walk = async (relative: string) => {
    let names: string[];
    try {
      names = await readdir(join(dir, relative));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const name of names.sort()) {
      const path = relative ? `${relative}/${name}` : name;
      let info: Awaited<ReturnType<typeof stat>>;
      try {
        info = await stat(join(dir, path));
      } catch (error) {
        // Removed between readdir and stat: the server is cleaning up, which is fine.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      if (info.isDirectory()) await walk(path);
      else if (info.isFile()) found.push({ path, size: info.size });
    }
  };
  await walk('');
  return found;
}

/** Where the filesystem store keeps a blob, relative to the data dir. */
export function blobPath(digest: string): string {
  const hex = digest.replace(/^sha256:/, '');
  return `blobs/sha256/${hex.slice(0, 2)}/${hex}`;
}

/** Size of the temporary file of an upload session, or -1 while it does not exist. */
export async function uploadFileSize(dataDir: string, id: string): Promise<number> {
  try {
    return (await stat(join(dataDir, 'uploads', id))).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return -1;
    throw error;
  }
}

/** Polls `condition` until it returns true; fails with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A minimal OCI image: a config blob, one layer, and the manifest's exact bytes. */
export function buildImage(layerSize = 64 * 1024): {
  config: Buffer;
  layer: Buffer;
  manifest: Buffer;
  digest: string;
} {
  const layer = randomBytes(layerSize);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
      config: { Labels: { nonce: randomBytes(8).toString('hex') } },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha256(config),
        size: config.length,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: sha256(layer),
          size: layer.length,
        },
      ],
    }),
  );
  return { config, layer, manifest, digest: sha256(manifest) };
}

/** Waits until the server has finished with every upload request, aborted ones included. */
export async function settled(berth: TestBerth): Promise<void> {
  await waitFor('no upload request in flight', () => berth.berth.registry.uploads.inFlight === 0);
}

export { sha256 };
