// Pushing and pulling whole images over raw HTTP for the fault tests, noting what the server acknowledged:
// a push stops at its first refused or broken request, as a client would.
import { randomBytes } from 'node:crypto';
import {
  describeReply,
  getBlob,
  patchChunk,
  pushBlob,
  type Reply,
  send,
  sha256,
  startSession,
  withDigest,
} from './support.js';

export const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';

export interface TestImage {
  repo: string;
  tag: string;
  blobs: Buffer[];
  manifest: Buffer;
  digest: string;
  /** Push the blobs in two PATCH chunks each instead of one POST. */
  chunked: boolean;
}

/** An image of a config and `layers` random layers of up to `maxLayer` bytes. */
export function makeImage(
  repo: string,
  tag: string,
  layers: number,
  maxLayer: number,
  chunked: boolean,
): TestImage {
  const layerBlobs = Array.from({ length: layers }, () =>
    randomBytes(1 + Math.floor(Math.random() * maxLayer)),
  );
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: layerBlobs.map(sha256) },
      config: { Labels: { nonce: randomBytes(8).toString('hex') } },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha256(config),
        size: config.length,
      },
      layers: layerBlobs.map((layer) => ({
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: sha256(layer),
        size: layer.length,
      })),
    }),
  );
  return { repo, tag, blobs: [config, ...layerBlobs], manifest, digest: sha256(manifest), chunked };
}

export interface PushOutcome {
  /** The manifest PUT answered 201 with the manifest's digest. */
  acknowledged: boolean;
  /** Every reply received, in order. */
  replies: Reply[];
  /** The error of a request that got no reply (connection refused or reset). */
  error?: Error;
}

async function pushChunked(base: string, repo: string, blob: Buffer, replies: Reply[]): Promise<boolean> {
  const started = await send(base, 'POST', `/v2/${repo}/blobs/uploads/`);
  replies.push(started);
  if (started.status !== 202) return false;
  const url = new URL(String(started.headers.location), base);
  const location = `${url.pathname}${url.search}`;
  const half = Math.ceil(blob.length / 2);
  const first = await patchChunk(base, location, blob.subarray(0, half), 0);
  replies.push(first);
  if (first.status !== 202) return false;
  const rest = blob.subarray(half);
  const second = rest.length > 0 ? await patchChunk(base, location, rest, half) : first;
  if (rest.length > 0) replies.push(second);
  if (second.status !== 202) return false;
  const done = await send(base, 'PUT', withDigest(location, sha256(blob)));
  replies.push(done);
  return done.status === 201;
}

/** Pushes the image's blobs, then its manifest under its tag; stops at the first failure. */
export async function pushImage(base: string, image: TestImage): Promise<PushOutcome> {
  const replies: Reply[] = [];
  try {
    for (const blob of image.blobs) {
      if (image.chunked) {
        if (!(await pushChunked(base, image.repo, blob, replies))) return { acknowledged: false, replies };
      } else {
        const reply = await pushBlob(base, image.repo, blob);
        replies.push(reply);
        if (reply.status !== 201) return { acknowledged: false, replies };
      }
    }
    const put = await send(base, 'PUT', `/v2/${image.repo}/manifests/${image.tag}`, {
      headers: { 'content-type': MANIFEST_TYPE },
      body: image.manifest,
    });
    replies.push(put);
    return {
      acknowledged: put.status === 201 && put.headers['docker-content-digest'] === image.digest,
      replies,
    };
  } catch (error) {
    return { acknowledged: false, replies, error: error as Error };
  }
}

/** Problems found pulling the image by tag and by digest: empty when it pulls byte-identical. */
export async function pullProblems(base: string, image: TestImage): Promise<string[]> {
  const problems: string[] = [];
  for (const reference of [image.tag, image.digest]) {
    const reply = await send(base, 'GET', `/v2/${image.repo}/manifests/${reference}`, {
      headers: { accept: MANIFEST_TYPE },
    });
    if (reply.status !== 200 || !reply.body.equals(image.manifest)) {
      problems.push(`${image.repo}:${reference} manifest: ${describeReply(reply)}`);
    }
  }
  for (const blob of image.blobs) {
    const reply = await getBlob(base, image.repo, sha256(blob));
    if (reply.status !== 200 || !reply.body.equals(blob)) {
      problems.push(`${image.repo} blob ${sha256(blob)}: ${reply.status}, ${reply.body.length} bytes`);
    }
  }
  return problems;
}
