import { deletesDisabled } from './blobs.js';
import { type Call, readerOf, repositoryOf } from './context.js';
import { readLimited } from './request-body.js';

/** GET/HEAD /v2/<name>/manifests/<reference>: the exact stored bytes, after Accept negotiation. */
export async function getManifest(call: Call): Promise<unknown> {
  const { request, reply, options } = call;
  const reference = call.params.reference as string;
  const proxied = await options.pullThrough?.manifest(
    repositoryOf(call),
    reference,
    request.headers.accept,
    request.log,
  );
  const manifest =
    proxied ?? (await options.registry.manifests.get(repositoryOf(call), reference, request.headers.accept));
  // RFC 9111 §5.5: 110 "Response is Stale"; the second header says why, for clients and proxies that drop Warning.
  if (proxied?.stale) {
    reply.header('warning', '110 - "Response is Stale"').header('x-berth-proxy-stale', proxied.stale);
  }
  const { policy } = options.registry;
  if (policy.admitManifestRead) await policy.admitManifestRead(repositoryOf(call), manifest, readerOf(call));
  reply
    .code(200)
    .type(manifest.mediaType)
    .header('docker-content-digest', manifest.digest)
    .header('etag', `"${manifest.digest}"`)
    .header('content-length', manifest.size);
  if (request.method === 'GET') options.registry.pulls.record(repositoryOf(call), manifest.digest);
  if (request.headers['if-none-match'] === `"${manifest.digest}"`) return reply.code(304).send();
  return request.method === 'HEAD' ? reply.send() : reply.send(manifest.content);
}

/** PUT /v2/<name>/manifests/<reference> (distribution-spec "Pushing Manifests"). */
export async function putManifest(call: Call): Promise<unknown> {
  const { request, reply, options } = call;
  const manifests = options.registry.manifests;
  const body = await readLimited(request.raw, manifests.options.maxManifestBytes, () => manifests.tooLarge());
  options.onBytesIn?.(body.byteLength);
  const result = await manifests.put(
    repositoryOf(call),
    call.params.reference as string,
    body,
    request.headers['content-type'],
  );
  reply
    .code(201)
    .header('location', `/v2/${repositoryOf(call)}/manifests/${result.digest}`)
    .header('docker-content-digest', result.digest)
    .header('content-length', 0);
  // distribution-spec v1.1: a manifest with a subject gets OCI-Subject, telling the client referrers are indexed.
  if (result.subject) reply.header('oci-subject', result.subject);
  return reply.send();
}

/** DELETE /v2/<name>/manifests/<digest|tag>: a digest deletes the manifest and its tags; a tag only the tag. */
export async function deleteManifest(call: Call): Promise<unknown> {
  if (!call.options.deletesEnabled) throw deletesDisabled();
  await call.options.registry.manifests.delete(repositoryOf(call), call.params.reference as string);
  return call.reply.code(202).header('content-length', 0).send();
}
