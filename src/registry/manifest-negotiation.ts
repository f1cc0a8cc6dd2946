import { IMAGE_MANIFEST_TYPES, INDEX_TYPES } from './media-types.js';

/**
 * Accept negotiation for manifest GET/HEAD. The stored bytes are served whenever the client accepts their
 * type (or sends no Accept, or a wildcard). A client that names image manifest types but no list type is an
 * old Docker client: it gets the linux/amd64 image of a list ('platform'), as Distribution does. Anything
 * else is refused ('reject').
 */
export function negotiate(stored: string, accept: string | undefined): 'serve' | 'platform' | 'reject' {
  const accepted = parseAccept(accept);
  if (accepted.size === 0 || accepted.has('*/*') || accepted.has('application/*') || accepted.has(stored)) {
    return 'serve';
  }
  // Old clients send only `application/json` or nothing useful; a single manifest is still what they want.
  if (IMAGE_MANIFEST_TYPES.has(stored)) {
    const namesAnyManifestType = [...accepted].some((t) => IMAGE_MANIFEST_TYPES.has(t) || INDEX_TYPES.has(t));
    return namesAnyManifestType && !accepted.has(stored) ? 'reject' : 'serve';
  }
  const namesImageType = [...accepted].some((t) => IMAGE_MANIFEST_TYPES.has(t));
  return namesImageType ? 'platform' : 'reject';
}

function parseAccept(header: string | undefined): Set<string> {
  const types = new Set<string>();
  for (const part of (header ?? '').split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (!type) continue;
    // q=0 means "not acceptable" (RFC 9110 §12.4.2).
    if (params.some((p) => /^q=0(\.0*)?$/.test(p))) continue;
    types.add(type);
  }
  return types;
}
