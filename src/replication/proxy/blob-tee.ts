import { PassThrough, type Readable, type Writable } from 'node:stream';
import type { BlobStore } from '../../storage/index.js';

/**
 * Writes `source` into the store under `tempKey` and, while a client is attached, hands it the same bytes
 * (tee). The slower of the two sets the pace (backpressure both ways); a client that goes away is let go and the
 * store's copy goes on. Any failure of the source or the store removes the temp object and fails the client.
 * Returns the bytes stored; the caller commits them.
 */
export async function teeIntoStore(
  source: Readable,
  store: BlobStore,
  tempKey: string,
  client: PassThrough | undefined,
): Promise<number> {
  const sink = new PassThrough({ highWaterMark: 1024 * 1024 });
  let failure: unknown;
  sink.on('error', () => {}); // the store's failure is `written`'s
  const written = store.write(tempKey, sink, 0);
  written.catch((error: unknown) => {
    failure ??= error;
    sink.destroy();
  });
  let reader: PassThrough | undefined = client;
  const letGo = () => {
    reader = undefined;
  };
  reader?.once('close', letGo);
  try {
    // Chunk by chunk as they arrive ('data', paused while either side is full): for-await would read() the
    // source, which concatenates whatever is buffered — a copy of most bytes.
    await new Promise<void>((resolve, reject) => {
      let waits = 0;
      const wait = (stream: Writable) => {
        waits++;
        source.pause();
        void drained(stream).then(() => {
          if (--waits === 0) source.resume();
        });
      };
      source.on('data', (chunk: Buffer) => {
        if (reader?.destroyed) reader = undefined;
        if (!sink.write(chunk)) wait(sink);
        if (reader && !reader.write(chunk)) wait(reader);
      });
      source.once('end', resolve);
      source.once('error', reject);
      written.catch(reject);
    });
    if (failure) throw failure;
    reader?.end();
    sink.end();
    return await written;
  } catch (error) {
    source.destroy();
    reader?.destroy(error as Error);
    sink.destroy();
    await written.catch(() => {});
    await store.delete(tempKey).catch(() => {});
    throw error;
  } finally {
    client?.off('close', letGo);
  }
}

/** Resolves when the stream wants more, or will never take more (closed, failed). */
function drained(stream: Writable): Promise<void> {
  if (stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}
