// The rpm header as rpmdb.sqlite stores it in each `Packages.blob` (rpm's "header blob", lib/header.c): a
// big-endian index count and data length, that many 16-byte index entries (tag, type, offset, count), then the
// data store the offsets point into. The 8-byte magic of a header in a package file is not stored.

export const RPMTAG = {
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  LICENSE: 1014,
  ARCH: 1022,
  SOURCERPM: 1044,
} as const;

const TYPE_INT32 = 4;
const TYPE_STRING = 6;
const TYPE_STRING_ARRAY = 8;
const TYPE_I18NSTRING = 9;

/** rpm's own sanity limits for a header (lib/header.c hdrchkTags, hdrchkData). */
const MAX_INDEX_ENTRIES = 0xffff;
const MAX_DATA_BYTES = 256 * 1024 * 1024;

interface IndexEntry {
  type: number;
  offset: number;
  count: number;
}

export class RpmHeader {
  private readonly entries = new Map<number, IndexEntry>();
  private readonly data: Buffer;

  constructor(blob: Buffer) {
    if (blob.length < 8) throw new Error('rpm header is shorter than its preamble');
    const indexCount = blob.readUInt32BE(0);
    const dataLength = blob.readUInt32BE(4);
    if (indexCount > MAX_INDEX_ENTRIES || dataLength > MAX_DATA_BYTES)
      throw new Error('rpm header sizes are absurd');
    const dataStart = 8 + indexCount * 16;
    if (blob.length < dataStart + dataLength) throw new Error('rpm header is shorter than its index says');
    this.data = blob.subarray(dataStart, dataStart + dataLength);
    for (let i = 0; i < indexCount; i++) {
      const at = 8 + i * 16;
      const tag = blob.readUInt32BE(at);
      const entry = {
        type: blob.readUInt32BE(at + 4),
        offset: blob.readUInt32BE(at + 8),
        count: blob.readUInt32BE(at + 12),
      };
      if (entry.offset >= dataLength && entry.count > 0)
        throw new Error(`rpm header tag ${tag} points past its data`);
      if (!this.entries.has(tag)) this.entries.set(tag, entry);
    }
  }

  /** A STRING tag, or the first string of an I18NSTRING or STRING_ARRAY one. */
  string(tag: number): string | undefined {
    const entry = this.entries.get(tag);
    if (!entry || ![TYPE_STRING, TYPE_STRING_ARRAY, TYPE_I18NSTRING].includes(entry.type)) return undefined;
    const end = this.data.indexOf(0, entry.offset);
    if (end < 0) throw new Error(`rpm header string tag ${tag} is not terminated`);
    return this.data.toString('utf8', entry.offset, end);
  }

  int32(tag: number): number | undefined {
    const entry = this.entries.get(tag);
    if (!entry || entry.type !== TYPE_INT32 || entry.count < 1) return undefined;
    if (entry.offset + 4 > this.data.length) throw new Error(`rpm header tag ${tag} points past its data`);
    return this.data.readUInt32BE(entry.offset);
  }
}
