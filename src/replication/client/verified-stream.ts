import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { tryParseDigest } from '../../registry/index.js';
import { ContentMismatchError } from './errors.js';
import type { BlobPrefix } from './upload-session.js';

/**
 * A pass-through that hashes and counts what flows and fails with a ContentMismatchError when the bytes do not
 * match the digest (at the end) or the size (as soon as it is exceeded, or at the end). It holds back the last
 * chunk until the check passes, so a consumer that uploads what it reads never sends a complete wrong body.
 * A stream of the blob's bytes from an offset on starts from the hash state of the bytes before (`prefix`), so
 * the whole blob is still verified.
 */
export class VerifiedStream extends Transform {
  private readonly hash: Hash;
  private bytes = 0;
  private held: Buffer | undefined;

  constructor(
    private readonly expected: { digest: string; size?: number | undefined },
    private readonly what: string,
    prefix?: Required<BlobPrefix>,
  ) {
    super();
    const digest = tryParseDigest(expected.digest);
    if (!digest)
      throw new ContentMismatchError(`${what}: unsupported digest ${expected.digest}`, expected, {});
    this.hash = prefix ? prefix.hash.copy() : createHash(digest.algorithm);
    this.bytes = prefix?.offset ?? 0;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.expected.size !== undefined && this.bytes > this.expected.size) {
      callback(this.mismatch(`more than the ${this.expected.size} bytes expected`, { size: this.bytes }));
      return;
    }
    this.hash.update(chunk);
    if (this.held) this.push(this.held);
    this.held = chunk;
    callback();
  }

  override _flush(callback: TransformCallback): void {
    const algorithm = this.expected.digest.slice(0, this.expected.digest.indexOf(':'));
    const digest = `${algorithm}:${this.hash.digest('hex')}`;
    if (this.expected.size !== undefined && this.bytes !== this.expected.size) {
      callback(this.mismatch(`${this.bytes} bytes, not ${this.expected.size}`, { size: this.bytes }));
    } else if (digest !== this.expected.digest) {
      callback(this.mismatch(`the bytes hash to ${digest}`, { digest }));
    } else {
      if (this.held) this.push(this.held);
      callback();
    }
  }

  private mismatch(said: string, actual: { digest?: string; size?: number }): ContentMismatchError {
    return new ContentMismatchError(`${this.what} ${this.expected.digest}: ${said}`, this.expected, actual);
  }
}
