import { Readable } from 'node:stream';
import { printableUrl, RegistryNetworkError, RegistryTimeoutError } from './errors.js';

export interface Timeouts {
  /** From the request (or its body's last byte) to the response headers. */
  headersTimeoutMs: number;
  /** The longest wait on the registry for a body chunk, either way; a blob body has no total limit, only this. */
  idleTimeoutMs: number;
}

export interface Exchange {
  method: string;
  url: URL;
  headers: Record<string, string>;
  /** A buffer can be sent again; a stream only once. */
  body?: Buffer | Readable;
  timeouts: Timeouts;
  signal?: AbortSignal | undefined;
}

/** A response whose body is read under the idle timeout, once, by exactly one of body/read/discard. */
export interface Answer {
  status: number;
  headers: Headers;
  /** The final URL (after redirects), for Location resolution. */
  url: URL;
  body(): Readable;
  /** The whole body, refused above `maxBytes`. */
  read(maxBytes: number): Promise<Buffer>;
  discard(): Promise<void>;
}

/** A deadline, armed only while we wait on the peer (never while our own side is slow, e.g. throttled). */
class Deadline {
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly onExpiry: (phase: Phase, ms: number) => void) {}
  arm(phase: Phase, ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.onExpiry(phase, ms), ms);
  }
  disarm(): void {
    clearTimeout(this.timer);
  }
}

type Phase = 'headers' | 'upload' | 'body';

/**
 * One HTTP exchange over the global fetch (undici) with the client's timeouts: no response within
 * headersTimeoutMs of the last request byte, or a body that stalls for idleTimeoutMs, aborts it with a
 * RegistryTimeoutError; a connection failure is a RegistryNetworkError; an error of the request body's own
 * stream (a source that fails verification) is rethrown as it is.
 */
export async function exchange(x: Exchange): Promise<Answer> {
  const printable = printableUrl(x.url);
  const controller = new AbortController();
  const forward = () => controller.abort(x.signal?.reason);
  if (x.signal?.aborted) throw x.signal.reason;
  x.signal?.addEventListener('abort', forward, { once: true });
  let timedOut: RegistryTimeoutError | undefined;
  const deadline = new Deadline((phase, ms) => {
    timedOut = new RegistryTimeoutError(x.method, printable, phase, ms);
    controller.abort(timedOut);
  });
  const { headersTimeoutMs, idleTimeoutMs } = x.timeouts;
  const finish = () => {
    deadline.disarm();
    x.signal?.removeEventListener('abort', forward);
  };
  let bodyError: unknown;
  let body: Buffer | ReadableStream<Uint8Array> | undefined;
  if (x.body instanceof Readable) {
    const source = x.body;
    // The clock runs while the registry has not taken the chunk we offer, and from the last one to the answer;
    // not while the source is slow to give the next chunk (its own read has its own deadline).
    body = ReadableStream.from(
      (async function* () {
        try {
          for await (const chunk of source) {
            deadline.arm('upload', idleTimeoutMs);
            yield chunk as Uint8Array;
            deadline.disarm();
          }
          deadline.arm('headers', headersTimeoutMs);
        } catch (error) {
          bodyError = error;
          throw error;
        }
      })(),
    );
  } else {
    body = x.body;
    deadline.arm('headers', headersTimeoutMs);
  }

  let res: Response;
  try {
    res = await fetch(x.url, {
      method: x.method,
      headers: x.headers,
      body,
      signal: controller.signal,
      redirect: 'follow',
      // Node's fetch needs this for a streamed request body.
      ...(body instanceof ReadableStream && { duplex: 'half' }),
    } as RequestInit);
  } catch (error) {
    finish();
    if (x.body instanceof Readable) x.body.destroy();
    throw failure(error);
  }
  deadline.disarm();

  function failure(error: unknown): unknown {
    if (bodyError !== undefined) return bodyError;
    if (timedOut) return timedOut;
    if (x.signal?.aborted) return x.signal.reason;
    return new RegistryNetworkError(x.method, printable, error);
  }

  let consumed = false;
  const claim = () => {
    if (consumed) throw new Error('response body already consumed');
    consumed = true;
  };
  const body$ = res.body;
  const answer: Answer = {
    status: res.status,
    headers: res.headers,
    url: new URL(res.url || x.url),
    body() {
      claim();
      return Readable.from(
        (async function* () {
          const reader = body$?.getReader();
          let done = !reader;
          try {
            while (!done) {
              deadline.arm('body', idleTimeoutMs);
              const next = await (reader as ReadableStreamDefaultReader<Uint8Array>).read();
              deadline.disarm();
              done = next.done;
              if (next.value)
                yield Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
            }
          } catch (error) {
            done = true;
            throw failure(error);
          } finally {
            finish();
            // Left early (the consumer stopped): let the connection go.
            if (!done) await reader?.cancel().catch(() => {});
          }
        })(),
        { objectMode: false },
      );
    },
    async read(maxBytes) {
      const chunks: Buffer[] = [];
      let total = 0;
      const stream = answer.body();
      for await (const chunk of stream) {
        total += (chunk as Buffer).length;
        if (total > maxBytes) {
          stream.destroy();
          throw new Error(`${x.method} ${printable}: response larger than ${maxBytes} bytes`);
        }
        chunks.push(chunk as Buffer);
      }
      return Buffer.concat(chunks);
    },
    async discard() {
      claim();
      finish();
      await body$?.cancel().catch(() => {});
    },
  };
  return answer;
}
