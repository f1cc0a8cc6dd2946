import { RegistryError } from './errors.js';

/** An inclusive byte range. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Parses the Content-Range of a chunked upload PATCH: `<start>-<end>`, inclusive (distribution-spec
 * "Pushing a blob in chunks"); `bytes <start>-<end>/<total|*>` is accepted too, as some clients send it.
 * Returns null for a header that is not a range at all.
 */
export function parseContentRange(header: string): ByteRange | null {
  const match = /^(?:bytes )?(\d{1,15})-(\d{1,15})(?:\/(?:\d{1,15}|\*))?$/.exec(header.trim());
  if (!match) return null;
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (end < start) return null;
  return { start, end };
}

export type RangeRequest = { kind: 'none' } | { kind: 'range'; range: ByteRange } | { kind: 'unsatisfiable' };

/**
 * Interprets a GET Range header against a blob of `size` bytes (RFC 9110 §14). A header that is not a single
 * well-formed byte range is ignored, as the RFC allows; a well-formed range that lies past the end is
 * unsatisfiable (416).
 */
export function parseRangeHeader(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: 'none' };
  const match = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (!match) return { kind: 'none' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'none' };
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return { kind: 'unsatisfiable' };
    // A suffix range of an empty blob is satisfiable, but 206 cannot describe zero bytes: send it whole.
    if (size === 0) return { kind: 'none' };
    return { kind: 'range', range: { start: Math.max(0, size - suffix), end: size - 1 } };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return { kind: 'none' };
  if (start >= size) return { kind: 'unsatisfiable' };
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  return { kind: 'range', range: { start, end } };
}

export function rangeNotSatisfiable(size: number): RegistryError {
  return new RegistryError('RANGE_INVALID', {
    detail: { size },
    headers: { 'content-range': `bytes */${size}` },
  });
}
