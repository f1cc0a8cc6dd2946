// Helpers for the fault tests: upload steps over raw HTTP (test/helpers/raw-http.ts), and looks at what landed
// in the data dir.
import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ociImageManifest, sha256 } from '../helpers/oci-client.js';
import { describeReply, type Reply, send } from '../helpers/raw-http.js';
import type { TestBerth } from '../helpers/server.js';

let repoCounter = 0;

/** A repository name no other test uses. */
export function uniqueRepo(prefix: string): string {
  repoCounter++;
  return `fault/${prefix}-${process.pid}-${repoCounter}-${randomBytes(3).toString('hex')}`;
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
  const manifest = ociImageManifest(config, [layer]);
  return { config, layer, manifest, digest: sha256(manifest) };
}

/** Waits until the server has finished with every upload request, aborted ones included. */
export async function settled(berth: TestBerth): Promise<void> {
  await waitFor('no upload request in flight', () => berth.berth.registry.uploads.inFlight === 0);
}
