/**
 * The benchmark's HTTP client and data helpers, shared by every workload and every registry so both servers see
 * exactly the same requests: node:http with a keep-alive agent, bodies streamed from a 1 MiB pattern, response
 * bodies hashed or counted as they arrive and kept only when small.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Agent, type IncomingHttpHeaders, type OutgoingHttpHeaders, request } from 'node:http';
import { connect } from 'node:net';
import { Readable } from 'node:stream';

export const KiB = 1024;
export const MiB = 1024 * 1024;
/** Throughputs are reported in MB/s (10^6 bytes per second), the unit `openssl speed` uses. */
export const MB = 1_000_000;

/** Response bodies up to this size are kept (error documents, JSON listings); larger ones are only counted. */
const KEEP_BODY_BYTES = 1 * MiB;

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  bytes: number;
  /** The body, when it is at most KEEP_BODY_BYTES. */
  body?: Buffer;
  /** `sha256:<hex>` of the body, when `hash` was asked for. */
  digest?: string;
}

export interface CallOptions {
  headers?: OutgoingHttpHeaders;
  body?: Buffer | (() => Readable);
  /** Hash the response body as it arrives. */
  hash?: boolean;
}

/** An unexpected response, with everything needed to reproduce it. */
export class UnexpectedResponse extends Error {
  constructor(
    readonly what: string,
    readonly request: {
      method: string;
      url: string;
      headers: OutgoingHttpHeaders;
      bodyBytes: number | string;
    },
    readonly reply: Reply,
  ) {
    const body = reply.body ? reply.body.toString('utf8', 0, Math.min(reply.body.length, 2000)) : '';
    super(
      [
        `${what}: unexpected HTTP ${reply.status}`,
        `  request:  ${request.method} ${request.url}`,
        `            headers ${JSON.stringify(request.headers)}, body ${request.bodyBytes}`,
        `  response: ${reply.status} headers ${JSON.stringify(reply.headers)}`,
        `            body ${JSON.stringify(body)}`,
      ].join('\n'),
    );
    this.name = 'UnexpectedResponse';
  }
}

/** One registry's client: a base URL and its own keep-alive agent. */
export class Client {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 64 });

  constructor(readonly base: string) {}

  url(path: string): URL {
    return new URL(path, this.base);
  }

  async call(method: string, path: string, options: CallOptions = {}): Promise<Reply> {
    const target = this.url(path);
    const headers = options.headers ?? {};
    return new Promise<Reply>((resolve, reject) => {
      const req = request(target, { method, agent: this.agent, headers }, (res) => {
        const hash = options.hash ? createHash('sha256') : undefined;
        const kept: Buffer[] = [];
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          hash?.update(chunk);
          if (bytes <= KEEP_BODY_BYTES) kept.push(chunk);
        });
        res.on('end', () => {
          const reply: Reply = { status: res.statusCode ?? 0, headers: res.headers, bytes };
          if (bytes <= KEEP_BODY_BYTES) reply.body = Buffer.concat(kept);
          if (hash) reply.digest = `sha256:${hash.digest('hex')}`;
          resolve(reply);
        });
        res.on('error', reject);
      });
      req.on('error', (error) => reject(new Error(`${method} ${target.href}: ${error.message}`)));
      const body = options.body;
      if (body === undefined || Buffer.isBuffer(body)) req.end(body);
      else {
        const stream = body();
        stream.on('error', (error) => req.destroy(error));
        stream.pipe(req);
      }
    });
  }

  /** `call`, then fail with the whole exchange unless the status is one of `expected`. */
  async expect(
    what: string,
    expected: number | number[],
    method: string,
    path: string,
    options: CallOptions = {},
  ): Promise<Reply> {
    const reply = await this.call(method, path, options);
    const ok = Array.isArray(expected) ? expected.includes(reply.status) : reply.status === expected;
    if (!ok) {
      const body = options.body;
      const bodyBytes =
        body === undefined
          ? 0
          : Buffer.isBuffer(body)
            ? body.length
            : `${options.headers?.['content-length'] ?? '?'} (streamed)`;
      throw new UnexpectedResponse(
        what,
        { method, url: this.url(path).href, headers: options.headers ?? {}, bodyBytes },
        reply,
      );
    }
    return reply;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Socket read buffer of `getHashed`: reused for every read, so large bodies cost no allocation per chunk. */
const PULL_READ_BYTES = 1 * MiB;

/**
 * GET `path` on a fresh connection and SHA-256 the body as it arrives: the large-pull client, kept as light
 * as it can be because it shares the machine's cores with the server under test. node:http copies every body
 * chunk out of the socket's buffer and allocates a new buffer per read; here the socket reads straight into
 * one reused 1 MiB buffer and the hash consumes it in place, so the only per-byte work on this side is the
 * SHA-256 itself. Speaks just enough HTTP/1.1 for this: `Connection: close`, a body of Content-Length bytes
 * (or up to EOF without one); a chunked response is refused.
 */
export function getHashed(base: string, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  const url = new URL(path, base);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 80);
  const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, 'Connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  const head = `${lines.join('\r\n')}\r\n\r\n`;
  return new Promise<Reply>((resolve, reject) => {
    const hash = createHash('sha256');
    let status = 0;
    let responseHeaders: IncomingHttpHeaders | undefined;
    /** The start of a head split across reads (a copy: the read buffer is reused). */
    let headBytes: Buffer[] = [];
    let length: number | undefined;
    let bytes = 0;
    const kept: Buffer[] = [];
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(new Error(`GET ${url.href}: ${error.message}`));
    };
    const finish = () => {
      if (settled) return;
      if (responseHeaders === undefined) return fail(new Error('connection closed before the response head'));
      if (length !== undefined && bytes !== length)
        return fail(new Error(`body ended after ${bytes} of ${length} bytes`));
      settled = true;
      socket.destroy();
      const reply: Reply = {
        status,
        headers: responseHeaders,
        bytes,
        digest: `sha256:${hash.digest('hex')}`,
      };
      if (bytes <= KEEP_BODY_BYTES) reply.body = Buffer.concat(kept);
      resolve(reply);
    };
    const body = (chunk: Buffer) => {
      if (length !== undefined && bytes + chunk.length > length)
        return fail(new Error(`more than the ${length} bytes of Content-Length`));
      bytes += chunk.length;
      hash.update(chunk);
      // The read buffer is reused: keep copies, and only of small (error) bodies.
      if ((length ?? 0) <= KEEP_BODY_BYTES && bytes <= KEEP_BODY_BYTES) kept.push(Buffer.from(chunk));
      if (bytes === length) finish();
    };
    /** Parses the response head (copied only while incomplete), then hands the rest of the read to `body`. */
    const onHead = (chunk: Buffer) => {
      const all = headBytes.length === 0 ? chunk : Buffer.concat([...headBytes, chunk]);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) {
        if (all.length > 64 * KiB) fail(new Error('response head over 64 KiB'));
        else headBytes = [Buffer.from(all)];
        return;
      }
      const [statusLine = '', ...fields] = all.toString('latin1', 0, end).split('\r\n');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
      if (!match) return fail(new Error(`bad status line ${JSON.stringify(statusLine)}`));
      status = Number(match[1]);
      const parsed: IncomingHttpHeaders = {};
      for (const field of fields) {
        const colon = field.indexOf(':');
        if (colon > 0) parsed[field.slice(0, colon).trim().toLowerCase()] = field.slice(colon + 1).trim();
      }
      responseHeaders = parsed;
      if (/chunked/i.test(String(parsed['transfer-encoding'] ?? '')))
        return fail(new Error('chunked responses are not supported by this client'));
      if (parsed['content-length'] !== undefined) length = Number(parsed['content-length']);
      const rest = all.subarray(end + 4);
      if (rest.length > 0) body(rest);
      else if (length === 0) finish();
    };
    const socket = connect({
      host,
      port,
      onread: {
        buffer: Buffer.allocUnsafe(PULL_READ_BYTES),
        callback: (n: number, buffer: Uint8Array) => {
          const chunk = Buffer.from(buffer.buffer, buffer.byteOffset, n);
          if (responseHeaders === undefined) onHead(chunk);
          else body(chunk);
          return !settled;
        },
      },
    });
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write(head));
    socket.on('end', finish);
    socket.on('error', fail);
  });
}

/** The Location header of a reply, resolved against the registry's base URL. */
export function locationOf(client: Client, reply: Reply, what: string): URL {
  const location = reply.headers.location;
  if (typeof location !== 'string' || location === '') throw new Error(`${what}: no Location header`);
  return client.url(location);
}

/** `path?query` of a URL, for Client.call. */
export function pathOf(url: URL): string {
  return `${url.pathname}${url.search}`;
}

/** The target of an RFC 5988 `Link: <…>; rel="next"` header, if any. */
export function nextLink(reply: Reply): string | undefined {
  const link = reply.headers.link;
  if (typeof link !== 'string') return undefined;
  return /<([^>]+)>\s*;\s*rel="?next"?/.exec(link)?.[1];
}

/** A fresh random 1 MiB pattern. */
export function newPattern(): Buffer {
  return randomBytes(MiB);
}

/** A stream of `size` bytes: the pattern repeated (the pattern's own buffers, never copied). */
export function patternStream(size: number, pattern: Buffer): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= size) {
        this.push(null);
        return;
      }
      const n = Math.min(pattern.length, size - sent);
      sent += n;
      this.push(pattern.subarray(0, n));
    },
  });
}

/** The digest of `patternStream(size, pattern)`, computed the same way, a pattern at a time. */
export function patternDigest(size: number, pattern: Buffer): string {
  const hash = createHash('sha256');
  for (let sent = 0; sent < size; sent += pattern.length) {
    hash.update(pattern.subarray(0, Math.min(pattern.length, size - sent)));
  }
  return `sha256:${hash.digest('hex')}`;
}

export function bufferDigest(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * `concurrency` clients, each running `work(client)` one after another until `seconds` have passed (a closed
 * loop): operations per second and latency percentiles. The first failure stops every client and is thrown.
 */
export async function closedLoop(
  options: { concurrency: number; seconds: number },
  work: (client: number) => Promise<void>,
): Promise<{ perSecond: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  const deadline = performance.now() + options.seconds * 1000;
  let failure: Error | undefined;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: options.concurrency }, async (_, client) => {
      while (performance.now() < deadline && !failure) {
        const start = performance.now();
        try {
          await work(client);
        } catch (error) {
          failure = error as Error;
          return;
        }
        latencies.push(performance.now() - start);
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  if (failure) throw failure;
  latencies.sort((a, b) => a - b);
  return {
    perSecond: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

export function median(values: number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Runs `work` and returns how long it took, in milliseconds. */
export async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = now();
  const value = await work();
  return { ms: now() - t0, value };
}

/** Runs `task(0..total-1)` on `workers` concurrent loops; returns each task's latency in ms, sorted. */
export async function concurrently(
  total: number,
  workers: number,
  task: (i: number) => Promise<void>,
): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  let failed = false;
  await Promise.all(
    Array.from({ length: Math.min(workers, total) }, async () => {
      while (next < total && !failed) {
        const i = next++;
        const t0 = now();
        try {
          await task(i);
        } catch (error) {
          failed = true;
          throw error;
        }
        latencies.push(now() - t0);
      }
    }),
  );
  return latencies.sort((a, b) => a - b);
}
