import { Decompress } from 'fzstd';

// Zstandard frame format: RFC 8878 §3.1. fzstd decodes; this file walks the frame and block headers itself so
// that (1) a frame cannot make fzstd allocate a window larger than the limit, and (2) fzstd is fed at most one
// block at a time, so one small compressed chunk (thousands of 4-byte RLE blocks) cannot expand into gigabytes
// before the consumer asks for more.

const ZSTD_MAGIC = 0xfd2fb528;
const MAX_BLOCK_BYTES = 128 * 1024;

type State =
  | { at: 'magic' }
  | { at: 'skippable-size' }
  | { at: 'frame-header' }
  | { at: 'block-header'; checksum: boolean }
  | { at: 'skip'; bytes: number; next: State };

/** Splits a zstd stream at header and block boundaries, checking each frame's declared window. */
class FrameScanner {
  private state: State = { at: 'magic' };
  private readonly header = Buffer.alloc(18);
  private have = 0;

  constructor(private readonly maxWindowBytes: number) {}

  get atFrameBoundary(): boolean {
    return this.state.at === 'magic' && this.have === 0;
  }

  /** Consumes bytes of `chunk` from `offset` up to the end of the next unit; returns where it stopped. */
  advance(chunk: Buffer, offset: number): number {
    const state = this.state;
    if (state.at === 'skip') {
      const take = Math.min(state.bytes, chunk.length - offset);
      state.bytes -= take;
      if (state.bytes === 0) this.state = state.next;
      return offset + take;
    }
    const want = this.wanted();
    const take = Math.min(want - this.have, chunk.length - offset);
    chunk.copy(this.header, this.have, offset, offset + take);
    this.have += take;
    if (this.have === want && this.complete()) this.have = 0;
    return offset + take;
  }

  private wanted(): number {
    switch (this.state.at) {
      case 'magic':
      case 'skippable-size':
        return 4;
      case 'block-header':
        return 3;
      default:
        return frameHeaderBytes(this.header, this.have);
    }
  }

  /** Acts on a complete header; false when more header bytes turned out to be needed. */
  private complete(): boolean {
    const h = this.header;
    switch (this.state.at) {
      case 'magic': {
        const magic = h.readUInt32LE(0);
        if (magic === ZSTD_MAGIC) this.state = { at: 'frame-header' };
        else if ((magic & 0xfffffff0) === 0x184d2a50) this.state = { at: 'skippable-size' };
        else throw new Error('not a zstd frame');
        return true;
      }
      case 'skippable-size': {
        const bytes = h.readUInt32LE(0);
        this.state = bytes === 0 ? { at: 'magic' } : { at: 'skip', bytes, next: { at: 'magic' } };
        return true;
      }
      case 'frame-header': {
        if (this.have === 1) return false; // the descriptor alone: its flags say how many bytes follow
        const window = frameWindow(h);
        if (window > this.maxWindowBytes) {
          throw new Error(`zstd window of ${window} bytes is over the ${this.maxWindowBytes}-byte limit`);
        }
        this.state = { at: 'block-header', checksum: (h.readUInt8(0) & 4) !== 0 };
        return true;
      }
      case 'block-header': {
        const checksum = this.state.checksum;
        const raw = h.readUIntLE(0, 3);
        const last = (raw & 1) === 1;
        const type = (raw >> 1) & 3;
        const size = raw >>> 3;
        if (type === 3) throw new Error('zstd block type is reserved');
        if (size > MAX_BLOCK_BYTES) throw new Error('zstd block is larger than 128 KiB');
        const body = type === 1 ? 1 : size;
        const after: State = last
          ? checksum
            ? { at: 'skip', bytes: 4, next: { at: 'magic' } }
            : { at: 'magic' }
          : { at: 'block-header', checksum };
        this.state = body === 0 ? after : { at: 'skip', bytes: body, next: after };
        return true;
      }
      default:
        return true;
    }
  }
}

/** Bytes of the frame header (from the descriptor on) once `have` of them are known (1 until the descriptor is). */
function frameHeaderBytes(h: Buffer, have: number): number {
  if (have === 0) return 1;
  const descriptor = h.readUInt8(0);
  const singleSegment = (descriptor >> 5) & 1;
  const dictionaryBytes = dictionaryIdBytes(descriptor);
  const contentSizeFlag = descriptor >> 6;
  const contentSizeBytes = contentSizeFlag === 0 ? singleSegment : 1 << contentSizeFlag;
  return 1 + (singleSegment ? 0 : 1) + dictionaryBytes + contentSizeBytes;
}

/** The dictionary id field's size: 0, 1, 2 or 4 bytes. */
function dictionaryIdBytes(descriptor: number): number {
  return (descriptor & 3) === 3 ? 4 : descriptor & 3;
}

function frameWindow(h: Buffer): number {
  const descriptor = h.readUInt8(0);
  if (((descriptor >> 5) & 1) === 0) {
    const exponent = h.readUInt8(1) >> 3;
    const base = 2 ** (10 + exponent);
    return base + (base / 8) * (h.readUInt8(1) & 7);
  }
  // Single segment: the window is the frame content size.
  const at = 1 + dictionaryIdBytes(descriptor);
  switch (descriptor >> 6) {
    case 0:
      return h.readUInt8(at);
    case 1:
      return h.readUInt16LE(at) + 256;
    case 2:
      return h.readUInt32LE(at);
    default:
      return h.readUInt32LE(at) + h.readUInt32LE(at + 4) * 2 ** 32;
  }
}

/** A pipeline stage that decompresses zstd with backpressure: the output of one block is yielded before the next. */
export function zstdDecompress(maxWindowBytes: number) {
  return async function* decompressZstd(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    const scanner = new FrameScanner(maxWindowBytes);
    const output: Buffer[] = [];
    // fzstd hands over a fresh array per block, so it is wrapped rather than copied.
    const decoder = new Decompress((data) => {
      if (data.length > 0) output.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    });
    for await (const chunk of source) {
      let offset = 0;
      while (offset < chunk.length) {
        const end = scanner.advance(chunk, offset);
        decoder.push(chunk.subarray(offset, end));
        offset = end;
        while (output.length > 0) yield output.shift() as Buffer;
      }
    }
    if (!scanner.atFrameBoundary) throw new Error('zstd stream ends in the middle of a frame');
    decoder.push(new Uint8Array(0), true);
    yield* output;
  };
}
