import { type PassThrough, type Readable, Transform, type Writable } from 'node:stream';
import type { BlobStore } from '../../storage/index.js';
import { drained } from '../client/writable-drained.js';

const MiB = 1024 * 1024;
/**
 * How far the store may fall behind the client, per fill and over every fill of the process. Storage writes
 * stall now and then (a busy disk, fsyncs of other commits holding the I/O threads, an S3 part upload): within
 * these bounds the client does not wait for them, so a first pull runs at the upstream's pace, not the disk's.
 */
const STORE_LAG_PER_FILL = 32 * MiB;
const STORE_LAG_TOTAL = 256 * MiB;

/** The store-side buffers of the fills in progress. */
const lagging = new Set<Transform>();

function lagOf(sink: Transform): number {
  return sink.writableLength + sink.readableLength;
}

function totalLag(): number {
  let total = 0;
  for (const sink of lagging) total += lagOf(sink);
  return total;
}

/**
 * Writes `source` into the store under `tempKey` and, while a client is attached, hands it the same bytes
 * (tee). The client sets the pace (backpressure); the store may lag behind it within STORE_LAG_PER_FILL and
 * STORE_LAG_TOTAL, then sets the pace too. A client that goes away is let go and the store's copy goes on. Any
 * failure of the source or the store removes the temp object and fails the client with `clientError(failure)`
 * (a client that has no byte yet gets that error as its answer). Returns the bytes stored; the caller commits
 * them.
 */
export async function teeIntoStore(
  source: Readable,
  store: BlobStore,
  tempKey: string,
  client: PassThrough | undefined,
  clientError: (failure: unknown) => Error = (failure) => failure as Error,
): Promise<number> {
  // A pass-through that tells when the store takes bytes (a chunk moves on once the store has room).
  let progressed: (() => void)[] = [];
  const moved = () => {
    const waiting = progressed;
    progressed = [];
    for (const resolve of waiting) resolve();
  };
  const sink = new Transform({
    writableHighWaterMark: STORE_LAG_PER_FILL,
    readableHighWaterMark: MiB,
    transform(chunk, _encoding, callback) {
      callback(null, chunk);
      moved();
    },
  });
  sink.once('close', moved);
  const progress = () => new Promise<void>((resolve) => progressed.push(resolve));
  lagging.add(sink);
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
      const wait = (stream: Writable) => waitFor(drained(stream));
      const waitFor = (done: Promise<void>) => {
        waits++;
        source.pause();
        void done.then(() => {
          if (--waits === 0) source.resume();
        });
      };
      source.on('data', (chunk: Buffer) => {
        if (reader?.destroyed) reader = undefined;
        if (!sink.write(chunk)) wait(sink);
        // Over the process's total: wait for this store to take something (never for others' stores).
        else if (totalLag() > STORE_LAG_TOTAL && lagOf(sink) > 0) waitFor(progress());
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
    reader?.destroy(clientError(error));
    sink.destroy();
    await written.catch(() => {});
    await store.delete(tempKey).catch(() => {});
    throw error;
  } finally {
    lagging.delete(sink);
    client?.off('close', letGo);
  }
}
