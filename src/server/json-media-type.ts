import type { FastifyReply, FastifyRequest } from 'fastify';

/** What Fastify's reply.send() appends, verbatim (fastify/lib/reply.js). */
const ADDED_CHARSET = '; charset=utf-8';

/**
 * An onSend hook that sends every JSON media type exactly as the handler set it.
 *
 * When reply.send() serializes an object or sends a string, Fastify appends `; charset=utf-8` to any
 * Content-Type whose media type contains `json` and has no charset: the referrers index went out as
 * `application/vnd.oci.image.index.v1+json; charset=utf-8`, errors, tags and the catalog as
 * `application/json; charset=utf-8`. The distribution spec fixes these media types ("Listing Referrers":
 * `Content-Type: application/vnd.oci.image.index.v1+json`), and JSON has no charset parameter at all
 * (RFC 8259 §11: JSON is UTF-8; RFC 6839 §3.1 for `+json`), so the parameter is taken off again here, for
 * every route and the error and not-found handlers alike. Buffers and streams (manifests, blobs) never got it.
 */
export async function sendJsonMediaTypeAsSet(_request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const type = reply.getHeader('content-type');
  if (typeof type !== 'string' || !type.endsWith(ADDED_CHARSET)) return;
  const mediaType = type.slice(0, -ADDED_CHARSET.length);
  if (mediaType.split(';', 1)[0]?.includes('json')) reply.header('content-type', mediaType);
}
