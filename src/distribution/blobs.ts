import {
  type Digest,
  parseDigest,
  parseRangeHeader,
  RegistryError,
  rangeNotSatisfiable,
} from '../registry/index.js';
import { type Call, readerOf, repositoryOf } from './context.js';

/** GET/HEAD /v2/<name>/blobs/<digest>, with single byte ranges (distribution-spec "Pulling blobs"). */
export async function getBlob(call: Call): Promise<unknown> {
  const { reply, request, options } = call;
  const digest = parseDigest(call.params.digest);
  let size: number;
  try {
    size = await options.registry.blobs.stat(repositoryOf(call), digest);
  } catch (error) {
    const proxied =
      error instanceof RegistryError && error.code === 'BLOB_UNKNOWN'
        ? await pullThrough(call, digest)
        : undefined;
    if (proxied === undefined) throw error;
    if (proxied === 'answered') return reply;
    size = await options.registry.blobs.stat(repositoryOf(call), digest);
  }
  if (request.method === 'GET') {
    // Pull policies refuse the bytes, never HEAD: clients pushing ask whether a blob exists before uploading it.
    const { policy } = options.registry;
    if (policy.admitBlobRead) await policy.admitBlobRead(repositoryOf(call), digest.value, readerOf(call));
    // Only after the repository check above: the URL grants the bytes to whoever holds it, for a while.
    const location = await options.registry.blobs.redirectUrl(digest);
    if (location) {
      return reply
        .code(307)
        .header('location', location)
        .header('docker-content-digest', digest.value)
        .send();
    }
  }
  reply.header('docker-content-digest', digest.value);
  reply.header('accept-ranges', 'bytes');
  reply.header('etag', `"${digest.value}"`);
  reply.header('cache-control', 'max-age=31536000');
  reply.type('application/octet-stream');
  const range = parseRangeHeader(request.headers.range, size);
  if (range.kind === 'unsatisfiable') throw rangeNotSatisfiable(size);
  if (range.kind === 'range') {
    const { start, end } = range.range;
    reply
      .code(206)
      .header('content-range', `bytes ${start}-${end}/${size}`)
      .header('content-length', end - start + 1);
    if (request.method === 'HEAD') return reply.send();
    return reply.send(await options.registry.blobs.open(digest, range.range));
  }
  reply.code(200).header('content-length', size);
  if (request.method === 'HEAD') return reply.send();
  // Fastify pipes the stream into the response; the filesystem store's stream then reuses its read buffers
  // (storage/filesystem.ts, FileRangeStream).
  return reply.send(await options.registry.blobs.open(digest));
}

/**
 * A blob a proxy project does not hold yet: 'stored' once fetched, 'answered' when the reply streams the bytes
 * as they arrive (or answers a HEAD with the upstream's size), undefined for other projects. Never the reply
 * itself: a Fastify reply is thenable, so awaiting it would wait for the whole body and resolve to undefined.
 */
async function pullThrough(call: Call, digest: Digest): Promise<'stored' | 'answered' | undefined> {
  const { request, reply, options } = call;
  const method = request.method === 'HEAD' ? 'HEAD' : 'GET';
  const ranged = request.headers.range !== undefined;
  const blob = await options.pullThrough?.blob(repositoryOf(call), digest, method, ranged, request.log);
  if (blob === undefined || blob.kind === 'stored') return blob?.kind;
  if (method === 'GET') {
    const { policy } = options.registry;
    if (policy.admitBlobRead) await policy.admitBlobRead(repositoryOf(call), digest.value, readerOf(call));
  }
  reply
    .code(200)
    .type('application/octet-stream')
    .header('docker-content-digest', digest.value)
    .header('etag', `"${digest.value}"`)
    .header('content-length', blob.size);
  reply.send(blob.kind === 'head' ? undefined : blob.body);
  return 'answered';
}

/** DELETE /v2/<name>/blobs/<digest>: unlinks it from the repository; bytes go at garbage collection. */
export async function deleteBlob(call: Call): Promise<unknown> {
  if (!call.options.deletesEnabled) throw deletesDisabled();
  const digest = parseDigest(call.params.digest);
  await call.options.registry.blobs.delete(repositoryOf(call), digest);
  return call.reply.code(202).header('content-length', 0).send();
}

export function deletesDisabled(): RegistryError {
  return new RegistryError('UNSUPPORTED', {
    message: 'deletes are disabled on this registry (deletes.enabled)',
  });
}
