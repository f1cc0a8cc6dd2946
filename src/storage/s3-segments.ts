// How a BlobStore object maps onto S3 objects, and how several of them are stitched into one. Pure: no I/O.
//
// S3 objects cannot be appended to, but uploads arrive as writes at increasing offsets (one per PATCH). So a
// written object is a chain of segment objects named `<key>!<offset>`: segment n starts where n-1 ends, and
// the object's size is the sum of the chain from offset 0. A commit stitches the chain into one plain object
// at the target key (CopyObject for one segment, a multipart upload of part copies for several), so committed
// blobs are ordinary objects that one GET or a presigned URL serves.
//
// `!` is not a key character (keys are [A-Za-z0-9._-] and `/`), so no key can collide with a segment, and it
// sorts before every key character, so a key's plain object and its segments come first and together in a
// listing.

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** Multipart limits. AWS allows 10,000 parts; Swift's s3api only 1,000 (its max_upload_part_num). */
export interface PartLimits {
  /** Every part but the last must be at least this big. */
  minPart: number;
  /** Also the largest object CopyObject copies, and the largest segment a write makes. */
  maxPart: number;
  maxParts: number;
}

export const S3_LIMITS: PartLimits = { minPart: 5 * MiB, maxPart: 5 * GiB, maxParts: 1000 };

/** An object in the bucket, as a listing or a HEAD describes it. */
export interface StoredObject {
  name: string;
  size: number;
  modified: Date;
}

export interface Segment extends StoredObject {
  offset: number;
}

const SEGMENT_SUFFIX = /!(\d{16})(?:\.\d{16})?$/;

/**
 * The name of the segment at `offset`. A segment cut short by a later write at an offset inside it
 * gets a new name carrying its new size: objects are never overwritten in place, because overwriting a
 * multipart object leaks its parts on Swift (see resolveChain for how the two names are told apart).
 */
export function segmentName(base: string, offset: number, trimmedSize?: number): string {
  const name = `${base}!${pad(offset)}`;
  return trimmedSize === undefined ? name : `${name}.${pad(trimmedSize)}`;
}

/** The base name and offset of a segment, or undefined for a plain object. */
export function parseSegmentName(name: string): { base: string; offset: number } | undefined {
  const match = SEGMENT_SUFFIX.exec(name);
  if (!match?.[1]) return undefined;
  return { base: name.slice(0, match.index), offset: Number(match[1]) };
}

export interface Chain {
  segments: Segment[];
  size: number;
  /** The latest write into the object. */
  modified: Date;
}

/**
 * The segments that make up an object: from offset 0, each starting where the one before ends. Anything
 * else is debris of an interrupted operation, ignored here and removed by the next write, commit or delete.
 * Two segments at one offset only happen when a process died between writing a trimmed copy and deleting the
 * original; the trimmed one is a prefix of the other and the shorter content is the right one, so the
 * shortest wins. Undefined when no segment starts at 0 (no object).
 */
export function resolveChain(candidates: readonly Segment[]): Chain | undefined {
  const byOffset = new Map<number, Segment>();
  for (const segment of candidates) {
    const other = byOffset.get(segment.offset);
    if (!other || segment.size < other.size) byOffset.set(segment.offset, segment);
  }
  const segments: Segment[] = [];
  let size = 0;
  let modified = 0;
  for (let next = byOffset.get(0); next; next = byOffset.get(size)) {
    segments.push(next);
    size += next.size;
    modified = Math.max(modified, next.modified.getTime());
    // An empty segment only ever stands alone (an empty object); stop rather than loop on it.
    if (next.size === 0) break;
  }
  return segments.length > 0 ? { segments, size, modified: new Date(modified) } : undefined;
}

/** A byte range of an object in the bucket. */
export interface Piece {
  name: string;
  start: number;
  size: number;
}

/** One part of a multipart upload: a server-side copy of a range, or bytes streamed from small ranges. */
export type Part = { copy: Piece } | { upload: Piece[]; size: number };

/**
 * Parts that concatenate `pieces`. Pieces of at least `minPart` are copied server-side (split when over
 * `maxPart`); runs of smaller ones are streamed through into parts of at least `minPart`, borrowing from the
 * head of the next big piece when a run falls short. If that makes too many parts, the thresholds double
 * until it fits: fewer, larger parts at the cost of streaming more bytes through.
 */
export function planParts(pieces: readonly Piece[], limits: PartLimits = S3_LIMITS): Part[] {
  for (let threshold = limits.minPart; ; threshold *= 2) {
    const parts = planWith(pieces, limits, Math.min(threshold, limits.maxPart / 2));
    if (parts.length <= limits.maxParts) return parts;
    if (threshold >= limits.maxPart) throw new Error(`cannot fit the object into ${limits.maxParts} parts`);
  }
}

function planWith(pieces: readonly Piece[], limits: PartLimits, threshold: number): Part[] {
  const parts: Part[] = [];
  let run: Piece[] = [];
  let runSize = 0;
  const flush = () => {
    if (runSize > 0) parts.push({ upload: run, size: runSize });
    run = [];
    runSize = 0;
  };
  const add = (piece: Piece) => {
    run.push(piece);
    runSize += piece.size;
    if (runSize >= threshold) flush();
  };
  for (const whole of pieces) {
    let piece = whole;
    if (piece.size === 0) continue;
    if (piece.size < threshold) {
      add(piece);
      continue;
    }
    if (runSize > 0 && runSize < limits.minPart) {
      // Top the run up to the minimum from the head of this piece; copy the rest if it is still big.
      const borrowed = limits.minPart - runSize;
      add({ ...piece, size: borrowed });
      flush();
      piece = { name: piece.name, start: piece.start + borrowed, size: piece.size - borrowed };
      if (piece.size < threshold) {
        add(piece);
        continue;
      }
    }
    flush();
    const count = Math.ceil(piece.size / limits.maxPart);
    for (let i = 0, start = 0; i < count; i++) {
      const end = Math.round(((i + 1) * piece.size) / count);
      parts.push({ copy: { name: piece.name, start: piece.start + start, size: end - start } });
      start = end;
    }
  }
  flush();
  return parts;
}

function pad(n: number): string {
  return String(n).padStart(16, '0');
}
