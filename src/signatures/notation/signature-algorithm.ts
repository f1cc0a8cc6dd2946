// signature-specification.md "Algorithm Selection": the signing certificate's key decides the algorithm, and
// the envelope's `alg` must name that same algorithm (no algorithm substitution).
import { constants, type KeyObject, verify } from 'node:crypto';
import { invalid, type NotationAlgorithm } from './envelope.js';

const BY_RSA_BITS: Record<number, NotationAlgorithm> = { 2048: 'PS256', 3072: 'PS384', 4096: 'PS512' };
const BY_CURVE: Record<string, NotationAlgorithm> = {
  prime256v1: 'ES256',
  secp384r1: 'ES384',
  secp521r1: 'ES512',
};
const HASH: Record<NotationAlgorithm, { name: string; bytes: number }> = {
  PS256: { name: 'sha256', bytes: 32 },
  PS384: { name: 'sha384', bytes: 48 },
  PS512: { name: 'sha512', bytes: 64 },
  ES256: { name: 'sha256', bytes: 32 },
  ES384: { name: 'sha384', bytes: 48 },
  ES512: { name: 'sha512', bytes: 64 },
};

/** The only algorithm a signing key may sign with; invalid for keys the Notary Project does not allow. */
export function algorithmForKey(key: KeyObject): NotationAlgorithm {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa' || type === 'rsa-pss') {
    const bits = details.modulusLength ?? 0;
    const alg = BY_RSA_BITS[bits];
    if (!alg) {
      invalid(
        `The signing certificate has a ${bits}-bit RSA key; the Notary Project allows 2048, 3072 or 4096 bits.`,
      );
    }
    return alg;
  }
  if (type === 'ec') {
    const alg = BY_CURVE[details.namedCurve ?? ''];
    if (!alg)
      invalid(`The signing certificate's EC curve ${details.namedCurve} is not P-256, P-384 or P-521.`);
    return alg;
  }
  return invalid(`The signing certificate's ${type} key is not allowed (RSA or ECDSA only).`);
}

/** RSASSA-PSS with a salt as long as the hash (RFC 7518 §3.5, RFC 8230 §2); ECDSA as raw r‖s (RFC 7518 §3.4). */
export function verifySignature(
  alg: NotationAlgorithm,
  key: KeyObject,
  signedBytes: Uint8Array,
  signature: Uint8Array,
): boolean {
  const hash = HASH[alg];
  try {
    if (alg.startsWith('PS')) {
      return verify(
        hash.name,
        signedBytes,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hash.bytes },
        signature,
      );
    }
    return verify(hash.name, signedBytes, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}
