import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { printableUrl, RegistryNetworkError, RegistryTimeoutError } from './errors.js';
import { drained } from './writable-drained.js';

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

/**
 * Connections kept open between requests, per origin (a registry, its token realm, the storage its blobs
 * redirect to). An idle connection is closed after 4 s, before servers usually close theirs (Node's own
 * server after 5 s), so a request rarely meets a connection the server has just dropped; when it does and
 * nothing was answered yet, it is sent once more on a new connection.
 */
const AGENT_OPTIONS = { keepAlive: true, timeout: 4000, scheduling: 'lifo' as const };
const agents = { 'http:': new HttpAgent(AGENT_OPTIONS), 'https:': new HttpsAgent(AGENT_OPTIONS) };

/** Redirects followed for requests without a body or with one that can be sent again, as fetch follows them. */
const MAX_REDIRECTS = 10;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** An unread body larger than this is not drained on discard: the connection is closed instead. */
const DRAIN_LIMIT = 64 * 1024;

type Phase = 'headers' | 'upload' | 'body';

/**
 * A deadline, armed only while we wait on the peer (never while our own side is slow, e.g. throttled). One
 * timer per exchange, refreshed rather than re-made: a blob body arms it once per chunk.
 */
class Deadline {
  private timer: NodeJS.Timeout | undefined;
  private phase: Phase = 'headers';
  private ms = 0;
  private armed = false;

  constructor(private readonly onExpiry: (phase: Phase, ms: number) => void) {}

  arm(phase: Phase, ms: number): void {
    this.phase = phase;
    this.armed = true;
    if (this.timer && this.ms === ms) {
      this.timer.refresh();
      return;
    }
    clearTimeout(this.timer);
    this.ms = ms;
    this.timer = setTimeout(() => {
      if (this.armed) this.onExpiry(this.phase, this.ms);
    }, ms);
    this.timer.unref();
  }

  disarm(): void {
    this.armed = false;
  }

  clear(): void {
    this.armed = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * One HTTP exchange over node:http(s) with keep-alive connections and the client's timeouts: no response within
 * headersTimeoutMs of the last request byte, or a body that stalls for idleTimeoutMs, aborts it with a
 * RegistryTimeoutError; a connection failure is a RegistryNetworkError; an error of the request body's own
 * stream (a source that fails verification) is rethrown as it is. Redirects are followed for requests whose
 * body can be sent again (credentials never go to another origin). A response body is a plain Node stream of
 * the socket's chunks (no web-stream conversion): blobs flow through with as little work per byte as can be.
 */
export async function exchange(x: Exchange): Promise<Answer> {
  if (x.signal?.aborted) throw x.signal.reason;
  let url = x.url;
  let method = x.method;
  let headers = x.headers;
  let body = x.body;
  for (let redirects = 0; ; redirects++) {
    const answer = await once({ ...x, url, method, headers, body });
    const location = answer.headers.get('location');
    const resendable = !(body instanceof Readable);
    if (!REDIRECTS.has(answer.status) || !location || !resendable || redirects >= MAX_REDIRECTS) {
      return answer;
    }
    await answer.discard();
    const next = new URL(location, url);
    if (next.origin !== url.origin) {
      const { authorization: _dropped, ...rest } = headers;
      headers = rest;
    }
    if (answer.status === 303 && method !== 'HEAD') {
      method = 'GET';
      body = undefined;
      const { 'content-length': _length, 'content-type': _type, ...rest } = headers;
      headers = rest;
    }
    url = next;
  }
}

/** One request and its answer; a connection reused from the pool that the server had closed is tried again. */
async function once(x: Exchange): Promise<Answer> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await attemptOnce(x);
    } catch (error) {
      if (!(error instanceof StaleConnection) || attempt > 0)
        throw error instanceof StaleConnection ? error.cause : error;
    }
  }
}

/** A pooled connection closed by the server before it answered (and before a stream body was read). */
class StaleConnection extends Error {
  constructor(override readonly cause: unknown) {
    super('stale connection');
  }
}

function attemptOnce(x: Exchange): Promise<Answer> {
  const printable = printableUrl(x.url);
  const { headersTimeoutMs, idleTimeoutMs } = x.timeouts;
  let bodyError: unknown;
  let timedOut: RegistryTimeoutError | undefined;
  let answered = false;
  let reader: ResponseBody | undefined;
  const failure = (error: unknown): unknown => {
    if (bodyError !== undefined) return bodyError;
    if (timedOut) return timedOut;
    if (x.signal?.aborted) return x.signal.reason;
    return new RegistryNetworkError(x.method, printable, {
      message: (error as Error)?.message,
      cause: error,
    });
  };
  const send = x.url.protocol === 'https:' ? httpsRequest : httpRequest;
  const req = send(x.url, {
    method: x.method,
    headers: x.headers,
    agent: agents[x.url.protocol as 'http:' | 'https:'],
  });
  const stop = (reason: unknown) => {
    req.destroy(reason as Error);
    reader?.destroy(failure(reason) as Error);
  };
  const deadline = new Deadline((phase, ms) => {
    timedOut = new RegistryTimeoutError(x.method, printable, phase, ms);
    stop(timedOut);
  });
  const onAbort = () => stop(x.signal?.reason);
  x.signal?.addEventListener('abort', onAbort, { once: true });
  const finish = () => {
    deadline.clear();
    x.signal?.removeEventListener('abort', onAbort);
  };
  let streamed = false;

  return new Promise<Answer>((resolve, reject) => {
    req.on('error', (error) => {
      if (answered) return; // the body's reader reports it
      finish();
      const stale = req.reusedSocket && !streamed && (error as NodeJS.ErrnoException).code === 'ECONNRESET';
      if (x.body instanceof Readable && bodyError === undefined && !stale) x.body.destroy();
      const failed = failure(error);
      reject(stale && failed instanceof RegistryNetworkError ? new StaleConnection(failed) : failed);
    });
    req.on('response', (res) => {
      answered = true;
      deadline.disarm();
      resolve(answerOf(res));
    });

    const source = x.body;
    if (source instanceof Readable) {
      streamed = true;
      // The clock runs while the registry has not taken the chunk we offer, and from the last one to the
      // answer; not while the source is slow to give the next chunk (its own read has its own deadline).
      // Chunk by chunk ('data'), paused while the registry is behind: for-await would read() the source,
      // which concatenates whatever is buffered (a copy).
      source.on('data', (chunk: Buffer) => {
        if (req.destroyed) return;
        if (!req.write(chunk)) {
          source.pause();
          deadline.arm('upload', idleTimeoutMs);
          void drained(req).then(() => {
            deadline.disarm();
            if (!req.destroyed) source.resume();
          });
        }
      });
      source.once('end', () => {
        if (req.destroyed) return;
        req.end();
        if (!answered) deadline.arm('headers', headersTimeoutMs);
      });
      source.once('error', (error) => {
        bodyError = error;
        req.destroy(error);
      });
    } else {
      req.end(x.body);
      deadline.arm('headers', headersTimeoutMs);
    }
  });

  function answerOf(res: IncomingMessage): Answer {
    const headers = new Headers();
    for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
      try {
        headers.append(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string);
      } catch {
        // a header value fetch would refuse too: left out
      }
    }
    let consumed = false;
    const claim = () => {
      if (consumed) throw new Error('response body already consumed');
      consumed = true;
    };
    const answer: Answer = {
      status: res.statusCode ?? 0,
      headers,
      url: x.url,
      body() {
        claim();
        reader = new ResponseBody(res, deadline, idleTimeoutMs, failure, finish);
        return reader;
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
        const length = Number(res.headers['content-length'] ?? Number.NaN);
        // A short body (or none, as a HEAD's) is read to its end so that the connection goes back to the pool
        // (it does on the response's 'end', which needs a reader even when the parser is done); a long one is cut.
        if (res.complete || x.method === 'HEAD' || length <= DRAIN_LIMIT) {
          res.on('error', () => {});
          res.resume();
        } else res.destroy();
      },
    };
    return answer;
  }
}

/**
 * A response body as the caller reads it: the socket's chunks as they come ('data', paused while the caller is
 * full: read() would concatenate what is buffered, a copy), with the idle deadline armed only while the caller
 * wants more and the registry has not sent it.
 */
class ResponseBody extends Readable {
  constructor(
    private readonly res: IncomingMessage,
    private readonly deadline: Deadline,
    private readonly idleMs: number,
    failure: (error: unknown) => unknown,
    private readonly done: () => void,
  ) {
    super({ highWaterMark: 1024 * 1024 });
    res.on('data', (chunk: Buffer) => {
      if (this.push(chunk)) this.deadline.arm('body', this.idleMs);
      else {
        this.deadline.disarm();
        res.pause();
      }
    });
    res.on('end', () => {
      this.done();
      this.push(null);
    });
    res.on('error', (error) => this.destroy(failure(error) as Error));
    res.on('aborted', () => {
      if (!res.complete)
        this.destroy(failure(new Error('the connection closed before the body ended')) as Error);
    });
    res.pause();
  }

  override _read(): void {
    if (this.res.readableEnded) return;
    this.deadline.arm('body', this.idleMs);
    this.res.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.done();
    if (!this.res.complete) this.res.destroy();
    callback(error);
  }
}
