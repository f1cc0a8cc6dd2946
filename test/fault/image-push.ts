// Pushing and pulling whole images over raw HTTP for the fault tests, noting what the server acknowledged:
// a push stops at its first refused or broken request, as a client would.
import { randomBytes } from 'node:crypto';
import { sha256 } from '../helpers/oci-client.js';
import { describeReply, type Reply, send } from '../helpers/raw-http.js';
import { getBlob, patchChunk, pushBlob, withDigest } from './support.js';

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

async function pushChunked(
  base: string,
  repo: string,
  blob: Buffer,
  record: (reply: Reply) => void,
): Promise<boolean> {
  const started = await send(base, 'POST', `/v2/${repo}/blobs/uploads/`);
  record(started);
  if (started.status !== 202) return false;
  const url = new URL(String(started.headers.location), base);
  const location = `${url.pathname}${url.search}`;
  const half = Math.ceil(blob.length / 2);
  const first = await patchChunk(base, location, blob.subarray(0, half), 0);
  record(first);
  if (first.status !== 202) return false;
  const rest = blob.subarray(half);
  const second = rest.length > 0 ? await patchChunk(base, location, rest, half) : first;
  if (rest.length > 0) record(second);
  if (second.status !== 202) return false;
  const done = await send(base, 'PUT', withDigest(location, sha256(blob)));
  record(done);
  return done.status === 201;
}

/**
 * Pushes the image's blobs, then its manifest under its tag; stops at the first failure. `onReply` hears of
 * each reply as it comes (the kill test counts them to pick its moment).
 */
export async function pushImage(
  base: string,
  image: TestImage,
  onReply: () => void = () => {},
): Promise<PushOutcome> {
  const replies: Reply[] = [];
  const record = (reply: Reply) => {
    replies.push(reply);
    onReply();
  };
  try {
    for (const blob of image.blobs) {
      if (image.chunked) {
        if (!(await pushChunked(base, image.repo, blob, record))) return { acknowledged: false, replies };
      } else {
        const reply = await pushBlob(base, image.repo, blob);
        record(reply);
        if (reply.status !== 201) return { acknowledged: false, replies };
      }
    }
    const put = await send(base, 'PUT', `/v2/${image.repo}/manifests/${image.tag}`, {
      headers: { 'content-type': MANIFEST_TYPE },
      body: image.manifest,
    });
    record(put);
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
