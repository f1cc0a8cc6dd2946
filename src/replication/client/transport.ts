import { Readable } from 'node:stream';
import { printableUrl, RegistryNetworkError, RegistryTimeoutError } from './errors.js';

export interface Timeouts {
  /** From the request (or its body's last byte) to the response headers. */
  headersTimeoutMs: number;
  /** Between two body bytes, either way; a blob body has no total limit, only this one. */
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

/** A timer that fires after `ms` without a touch(). */
class IdleTimer {
  private timer: NodeJS.Timeout;
  constructor(ms: number, onIdle: () => void) {
    this.timer = setTimeout(onIdle, ms);
  }
  touch(): void {
    this.timer.refresh();
  }
  reset(ms: number, onIdle: () => void): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(onIdle, ms);
  }
  stop(): void {
    clearTimeout(this.timer);
  }
}

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
  const expire = (phase: 'headers' | 'body', ms: number) => () => {
    timedOut = new RegistryTimeoutError(x.method, printable, phase, ms);
    controller.abort(timedOut);
  };
  const timer = new IdleTimer(x.timeouts.headersTimeoutMs, expire('headers', x.timeouts.headersTimeoutMs));
  const finish = () => {
    timer.stop();
    x.signal?.removeEventListener('abort', forward);
  };
  let bodyError: unknown;
  let body: Buffer | ReadableStream<Uint8Array> | undefined;
  if (x.body instanceof Readable) {
    const source = x.body;
    // Every request body byte restarts the headers timer: a slow upload is not a dead server.
    body = ReadableStream.from(
      (async function* () {
        try {
          for await (const chunk of source) {
            timer.touch();
            yield chunk as Uint8Array;
          }
        } catch (error) {
          bodyError = error;
          throw error;
        }
      })(),
    );
  } else body = x.body;

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
  timer.reset(x.timeouts.idleTimeoutMs, expire('body', x.timeouts.idleTimeoutMs));

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
          try {
            if (body$) {
              for await (const chunk of body$) {
                timer.touch();
                yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
              }
            }
          } catch (error) {
            throw failure(error);
          } finally {
            finish();
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
