import { createHash } from 'node:crypto';
import type { Digest } from '../registry/index.js';

/** Chunks passed through unchanged while they are hashed and counted; read once. */
export interface HashingReader extends AsyncIterable<Uint8Array> {
  /** `algorithm:hex` of everything read so far. */
  digest(): string;
  bytes(): number;
}

export function hashingReader(
  source: AsyncIterable<Uint8Array>,
  algorithm: Digest['algorithm'] = 'sha256',
): HashingReader {
  const hash = createHash(algorithm);
  let count = 0;
  let result: string | undefined;
  async function* pass(): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      hash.update(chunk);
      count += chunk.byteLength;
      yield chunk;
    }
  }
  const generator = pass();
  const reader: HashingReader = {
    [Symbol.asyncIterator]: () => generator,
    digest: () => {
      result ??= `${algorithm}:${hash.digest('hex')}`;
      return result;
    },
    bytes: () => count,
  };
  return reader;
}
