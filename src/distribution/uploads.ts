import {
  assertRepositoryName,
  type Chunk,
  parseContentRange,
  parseDigest,
  RegistryError,
} from '../registry/index.js';
import { type Call, repositoryOf } from './context.js';
import { contentLength, hasBody } from './request-body.js';

function uploadLocation(name: string, id: string): string {
  return `/v2/${name}/blobs/uploads/${id}`;
}

function blobCreated(call: Call, digest: string): unknown {
  return call.reply
    .code(201)
    .header('location', `/v2/${repositoryOf(call)}/blobs/${digest}`)
    .header('docker-content-digest', digest)
    .header('content-length', 0)
    .send();
}

/** 202 with where to continue; Range is the inclusive range received so far ("0-0" when empty, as Distribution). */
function uploadAccepted(call: Call, id: string, offset: number, status = 202): unknown {
  return call.reply
    .code(status)
    .header('location', uploadLocation(repositoryOf(call), id))
    .header('range', `0-${Math.max(offset - 1, 0)}`)
    .header('docker-upload-uuid', id)
    .header('content-length', 0)
    .send();
}

/** The request body as an upload chunk, with the client's claims to be checked against what arrives. */
function chunkOf(call: Call, withRange: boolean): Chunk {
  const header = call.request.headers['content-range'];
  let range: Chunk['range'];
  if (withRange && header !== undefined) {
    range = parseContentRange(header) ?? undefined;
    if (!range) {
      throw new RegistryError('BLOB_UPLOAD_INVALID', {
        status: 416,
        message: 'invalid Content-Range: expected <start>-<end>',
        detail: { contentRange: header },
      });
    }
  }
  return { body: call.request.raw, range, length: contentLength(call.request.raw) };
}

/**
 * POST /v2/<name>/blobs/uploads/: mount (`mount`, `from`), monolithic upload (`digest`), or a new session.
 */
export async function startUpload(call: Call): Promise<unknown> {
  const { query, options } = call;
  const name = repositoryOf(call);
  const mount = query.get('mount');
  if (mount !== null) {
    const digest = parseDigest(mount);
    const from = query.get('from') ?? undefined;
    if (from !== undefined) assertRepositoryName(from);
    // A mount reads another repository: the caller must be allowed to pull from it.
    const caller = call.caller;
    const policy = caller
      ? (source: string) => caller.canPull(source)
      : (options.mountPolicy ?? (() => true));
    if (await options.registry.blobs.mount(name, digest, from, policy))
      return blobCreated(call, digest.value);
    // Not mountable: fall back to a regular upload session, as the spec allows.
  }
  const digestParam = query.get('digest');
  if (digestParam !== null && mount === null) {
    const digest = parseDigest(digestParam);
    await options.registry.uploads.uploadWhole(name, digest, chunkOf(call, false));
    return blobCreated(call, digest.value);
  }
  const session = await options.registry.uploads.start(name);
  call.reply.header('oci-chunk-min-length', 0);
  return uploadAccepted(call, session.id, 0);
}

/** GET /v2/<name>/blobs/uploads/<uuid>: where the upload stands, to resume it. */
export async function uploadStatus(call: Call): Promise<unknown> {
  const session = await call.options.registry.uploads.get(repositoryOf(call), call.params.uuid as string);
  return uploadAccepted(call, session.id, session.offset, 204);
}

/** PATCH /v2/<name>/blobs/uploads/<uuid>: one chunk, in order. */
export async function patchUpload(call: Call): Promise<unknown> {
  const id = call.params.uuid as string;
  const offset = await call.options.registry.uploads.append(repositoryOf(call), id, chunkOf(call, true));
  return uploadAccepted(call, id, offset);
}

/** PUT /v2/<name>/blobs/uploads/<uuid>?digest=: closes the upload, with an optional last chunk. */
export async function finishUpload(call: Call): Promise<unknown> {
  const digest = parseDigest(call.query.get('digest') ?? undefined);
  const chunk = hasBody(call.request.raw) ? chunkOf(call, true) : undefined;
  await call.options.registry.uploads.finish(repositoryOf(call), call.params.uuid as string, digest, chunk);
  return blobCreated(call, digest.value);
}

/** DELETE /v2/<name>/blobs/uploads/<uuid>: cancels it. */
export async function cancelUpload(call: Call): Promise<unknown> {
  await call.options.registry.uploads.cancel(repositoryOf(call), call.params.uuid as string);
  return call.reply.code(204).send();
}
