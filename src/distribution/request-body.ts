import type { IncomingMessage } from 'node:http';
import { RegistryError } from '../registry/index.js';

/** The Content-Length header as a number; undefined when absent (chunked); SIZE_INVALID when malformed. */
export function contentLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined) return undefined;
  if (!/^\d{1,15}$/.test(header))
    throw new RegistryError('SIZE_INVALID', { message: 'invalid Content-Length' });
  return Number(header);
}

/** True when the request carries a body (a non-zero Content-Length, or chunked transfer encoding). */
export function hasBody(req: IncomingMessage): boolean {
  const length = contentLength(req);
  return length === undefined ? req.headers['transfer-encoding'] !== undefined : length > 0;
}

/** Reads a small body (a manifest) into memory, refusing it as soon as it passes `limit`. */
export async function readLimited(
  req: IncomingMessage,
  limit: number,
  tooLarge: () => Error,
): Promise<Buffer> {
  const declared = contentLength(req);
  if (declared !== undefined && declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).byteLength;
    if (total > limit) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  if (declared !== undefined && total !== declared) {
    throw new RegistryError('SIZE_INVALID', { detail: { declared, received: total } });
  }
  return Buffer.concat(chunks, total);
}
