import { IMAGE_MANIFEST_TYPES, INDEX_TYPES } from './media-types.js';

/**
 * Accept negotiation for manifest GET/HEAD. The stored bytes are served whenever the client accepts their
 * type (or sends no Accept, or a wildcard). A client that names image manifest types but no list type is an
 * old Docker client: it gets the linux/amd64 image of a list ('platform'), as Distribution does. Anything
 * else is refused ('reject').
 */
export function negotiate(stored: string, accept: string | undefined): 'serve' | 'platform' | 'reject' {
  const { accepted, excluded } = parseAccept(accept);
  if (accepted.size === 0 && excluded.size === 0) return 'serve';
  // A specific q=0 beats any wildcard (RFC 9110 §12.5.1).
  const wildcard = accepted.has('*/*') || accepted.has('application/*');
  if (!excluded.has(stored) && (wildcard || accepted.has(stored))) return 'serve';
  if (IMAGE_MANIFEST_TYPES.has(stored)) {
    if (excluded.has(stored) || accepted.size === 0) return 'reject';
    // Old clients send only `application/json` or the like; a single manifest is still what they want.
    const namesManifestTypes = [...accepted].some((t) => IMAGE_MANIFEST_TYPES.has(t) || INDEX_TYPES.has(t));
    return namesManifestTypes ? 'reject' : 'serve';
  }
  const namesImageType = [...accepted].some((t) => IMAGE_MANIFEST_TYPES.has(t));
  return namesImageType ? 'platform' : 'reject';
}

function parseAccept(header: string | undefined): { accepted: Set<string>; excluded: Set<string> } {
  const accepted = new Set<string>();
  const excluded = new Set<string>();
  for (const part of (header ?? '').split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (!type) continue;
    // q=0 means "not acceptable" (RFC 9110 §12.4.2).
    if (params.some((p) => /^q=0(\.0*)?$/.test(p))) excluded.add(type);
    else accepted.add(type);
  }
  return { accepted, excluded };
}
