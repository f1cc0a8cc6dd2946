import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header every delivery carries when its endpoint has a secret. */
export const SIGNATURE_HEADER = 'x-berth-signature';

/** `sha256=<hex HMAC-SHA256 of the exact body bytes under the secret>` (GitHub's scheme, with our header name). */
export function signBody(body: string | Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** What a receiver does: recomputes the signature and compares in constant time. */
export function verifySignature(body: string | Buffer, secret: string, header: string | undefined): boolean {
  if (header === undefined) return false;
  const expected = Buffer.from(signBody(body, secret));
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
