// The lean read path of the S3 driver: a GET of a presigned URL on a bare keep-alive socket whose reads land
// straight in slabs of the store's ReadBufferPool, handed on without a copy. Against the SDK's GetObject over
// node:http (an HTTP parser, an IncomingMessage stream and a fresh buffer per read), a 256 MiB read from the
// local Swift cost this process ~2 s of CPU per GiB that way and ~0.3 s this way (bench/s3-read-probe.ts).
//
// Piped into an HTTP response or a socket (as Fastify sends a blob), each chunk is written with a callback and
// its slab reused once every write of it has completed. Read any other way (for await, a pipe into another
// stream), chunks belong to the consumer and their slabs are left to the garbage collector.
//
// A body the store cuts short (its connection closed, reset or stalled before the last byte; Swift does so to
// a stream its reader paused too long) continues with a ranged GET from the offset reached, on a new
// connection, into the same stream: the consumer sees one unbroken byte sequence. Objects are immutable (blobs
// are content-addressed), so the rest of the bytes are the same; the resumed answer must still be a 206 for
// exactly the bytes asked, of an object of the same size, or the read fails rather than splice other bytes.
import { Buffer } from 'node:buffer';
import { ServerResponse } from 'node:http';
import { Http2ServerResponse } from 'node:http2';
import { connect, Socket } from 'node:net';
import { Readable, type Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReadBufferPool, Slab, SlabHolder } from './read-buffer-pool.js';

/** A read lands in what is left of its slab while at least this much is; then in the next slab. */
const MIN_READ = 16 * 1024;
/** A connection's own buffer, for response heads' overflow and reads while no slab is at hand. */
const SCRATCH_BYTES = 16 * 1024;
/** The response head (status line and headers) may not be longer. */
const MAX_HEAD = 64 * 1024;
/** Idle keep-alive connections kept per store, and for how long. */
const MAX_IDLE = 64;
const IDLE_MS = 10_000;
/** Requests tried before the error is given up (a failure before the body starts: connection, 5xx). */
const ATTEMPTS = 3;
const RETRY_DELAY_MS = 100;
/**
 * A body cut short resumes at most this many times in a row without a byte of progress, and this many times
 * in all; then the read fails with the cut's error.
 */
const RESUMES_WITHOUT_PROGRESS = 3;
const MAX_RESUMES = 16;

export interface ObjectReaderOptions {
  pool: ReadBufferPool;
  connectTimeoutMs: number;
  /** How long a response may take to begin, and its body may stall. */
  requestTimeoutMs: number;
}

/** An error shaped as the SDK's are, so that the store classifies it alike (not found, unavailable). */
export class ObjectReadError extends Error {
  readonly $metadata: { httpStatusCode?: number };
  constructor(name: string, message: string, httpStatusCode?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = name;
    this.$metadata = { httpStatusCode };
  }
}

/** GETs of object URLs over pooled connections to plain-HTTP stores. */
export class S3ObjectReader {
  private readonly idle = new Map<string, Connection[]>();
  private closed = false;

  constructor(private readonly options: ObjectReaderOptions) {}

  /**
   * The object at `url` (presigned), or the inclusive `range` of it, once the store's answer has begun: a
   * stream of its bytes, or an ObjectReadError (status, and the store's error code as its name). The object
   * must not change while read: a body cut short resumes from where it stopped, with a URL from `presign`
   * (`url` may have expired by then), or `url` again without it.
   */
  async open(
    url: URL,
    range?: { start: number; end: number },
    presign?: () => Promise<URL>,
  ): Promise<Readable> {
    checkProtocol(url);
    const resume: Resume = {
      url: presign ? async () => checkProtocol(await presign()) : async () => url,
      connection: (next) => this.connection(next),
    };
    let lastError: unknown;
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const holder = this.options.pool.holder();
      let connection: Connection | undefined;
      try {
        const slab = await holder.next();
        connection = await this.connection(url);
        const body = await connection.get(url, range, holder, slab, resume);
        return body;
      } catch (error) {
        holder.end();
        connection?.destroy();
        lastError = error;
        if (!retryable(error)) throw error;
        // The first retry at once (a kept-alive connection the store had just closed); then a store that is
        // failing gets a moment before the next try, as the SDK's retries give it.
        if (attempt > 1 && attempt < ATTEMPTS) await sleep(RETRY_DELAY_MS * attempt);
      }
    }
    throw lastError;
  }

  /** Closes idle connections; later reads open new ones. */
  close(): void {
    this.closed = true;
    for (const list of this.idle.values()) for (const connection of list) connection.destroy();
    this.idle.clear();
  }

  private async connection(url: URL): Promise<Connection> {
    const key = url.host;
    const list = this.idle.get(key);
    for (let connection = list?.pop(); connection; connection = list?.pop()) {
      if (connection.usable) return connection;
    }
    return Connection.open(url, this.options, (done) => this.park(key, done));
  }

  /** A connection whose response ended cleanly waits for the next request. */
  private park(key: string, connection: Connection): void {
    const list = this.idle.get(key) ?? [];
    if (this.closed || list.length >= MAX_IDLE) {
      connection.destroy();
      return;
    }
    list.push(connection);
    this.idle.set(key, list);
    connection.idleFor(IDLE_MS, () => {
      const at = list.indexOf(connection);
      if (at >= 0) list.splice(at, 1);
    });
  }
}

function checkProtocol(url: URL): URL {
  if (url.protocol !== 'http:') throw new TypeError(`lean reads are for http: stores, not ${url.protocol}`);
  return url;
}

/** How a body cut short gets the rest: a URL for the object, and a connection to its store. */
interface Resume {
  url(): Promise<URL>;
  connection(url: URL): Promise<Connection>;
}

/** The store's refusal or failure: the code its XML error body names (else Http<status>) as the error's name. */
function storeError(status: number, body: string, when = ''): ObjectReadError {
  const code = /<Code>([^<]+)<\/Code>/.exec(body)?.[1] ?? `Http${status}`;
  return new ObjectReadError(code, `the object store answered ${status} ${code}${when}`, status);
}

/** Failures worth another try: the store unreachable or failing before the body began. */
function retryable(error: unknown): boolean {
  if (error instanceof ObjectReadError) {
    const status = error.$metadata.httpStatusCode;
    return status === undefined ? error.name !== 'ProtocolError' : status >= 500;
  }
  return false;
}

/** A body cut short by the store, or a resumption failing as a first request would be retried. */
function resumable(error: Error): boolean {
  if (!(error instanceof ObjectReadError)) return false;
  return (
    error.name === 'NetworkError' ||
    error.name === 'TimeoutError' ||
    (error.$metadata.httpStatusCode ?? 0) >= 500
  );
}

interface Head {
  status: number;
  length: number | undefined;
  keepAlive: boolean;
  chunked: boolean;
  /** Content-Range, as sent and parsed (undefined when absent or not of the form `bytes a-b/size`). */
  rangeText: string | undefined;
  range: { start: number; end: number; total: number | undefined } | undefined;
}

function parseHead(text: string): Head {
  const [statusLine = '', ...fields] = text.split('\r\n');
  const match = /^HTTP\/1\.([01]) (\d{3})/.exec(statusLine);
  if (!match) throw new ObjectReadError('ProtocolError', `bad status line ${JSON.stringify(statusLine)}`);
  const headers = new Map<string, string>();
  for (const field of fields) {
    const colon = field.indexOf(':');
    if (colon > 0) headers.set(field.slice(0, colon).trim().toLowerCase(), field.slice(colon + 1).trim());
  }
  const lengthText = headers.get('content-length');
  const length = lengthText === undefined ? undefined : Number(lengthText);
  if (length !== undefined && (!/^\d+$/.test(lengthText ?? '') || !Number.isSafeInteger(length))) {
    throw new ObjectReadError('ProtocolError', `bad Content-Length ${JSON.stringify(lengthText)}`);
  }
  const connection = headers.get('connection')?.toLowerCase() ?? '';
  const rangeText = headers.get('content-range');
  const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(rangeText ?? '');
  const [start, end, total] = [range?.[1], range?.[2], range?.[3] === '*' ? undefined : range?.[3]].map(
    (text) => (text === undefined ? undefined : Number(text)),
  );
  const valid = (n: number | undefined) => n === undefined || Number.isSafeInteger(n);
  return {
    status: Number(match[2]),
    length,
    keepAlive: match[1] === '1' ? !connection.includes('close') : connection.includes('keep-alive'),
    chunked: (headers.get('transfer-encoding') ?? '').toLowerCase().includes('chunked'),
    rangeText,
    range:
      start !== undefined && end !== undefined && valid(start) && valid(end) && valid(total)
        ? { start, end, total }
        : undefined,
  };
}

/** What a connection's reads go to: a response's head, then its body; or nothing while idle. */
interface ReadTarget {
  /** The buffer the next read lands in (the connection's scratch buffer will do). */
  landing(): Uint8Array;
  /** `n` bytes landed at the start of `landing` (what landing() gave last); false pauses the socket. */
  landed(n: number, landing: Uint8Array): boolean;
  /** The connection failed or closed. */
  failed(error: Error): void;
}

/** One keep-alive connection: a socket reading into whatever its current target offers. */
class Connection {
  readonly scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES);
  // Set by open() right after construction.
  socket!: Socket;
  private target: ReadTarget | undefined;
  /** Where the socket's next read lands: what landing() gave last. */
  private pending: Uint8Array = this.scratch;
  private idleTimer: NodeJS.Timeout | undefined;
  private dead = false;

  private constructor(
    readonly options: ObjectReaderOptions,
    private readonly parked: (connection: Connection) => void,
  ) {}

  static open(url: URL, options: ObjectReaderOptions, parked: (connection: Connection) => void) {
    return new Promise<Connection>((resolve, reject) => {
      const connection = new Connection(options, parked);
      const socket = connect({
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: Number(url.port || 80),
        noDelay: true,
        onread: {
          // Called once now, then after every read: where the next read lands.
          buffer: () => connection.landing(),
          callback: (n: number) => connection.landed(n),
        },
      });
      connection.socket = socket;
      const timer = setTimeout(() => {
        socket.destroy(new ObjectReadError('TimeoutError', `connecting to ${url.host} timed out`));
      }, options.connectTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.setTimeout(options.requestTimeoutMs);
        resolve(connection);
      });
      socket.on('timeout', () => {
        socket.destroy(
          new ObjectReadError('TimeoutError', `the object store stalled for ${options.requestTimeoutMs} ms`),
        );
      });
      socket.on('error', (error) => {
        clearTimeout(timer);
        reject(networkError(error));
        connection.fail(networkError(error));
      });
      socket.on('close', () => {
        clearTimeout(timer);
        const closed = networkError(
          Object.assign(new Error('the object store closed the connection'), { code: 'ECONNRESET' }),
        );
        reject(closed);
        connection.fail(closed);
      });
    });
  }

  /** Still connected and not in use. */
  get usable(): boolean {
    return !this.dead && !this.socket.destroyed && this.target === undefined;
  }

  landing(): Uint8Array {
    this.pending = this.target?.landing() ?? this.scratch;
    return this.pending;
  }

  landed(n: number): boolean {
    const target = this.target;
    if (!target) {
      // Bytes nobody asked for: the connection is out of step; drop it.
      this.destroy();
      return false;
    }
    const more = target.landed(n, this.pending);
    // A response that ended with this read leaves the connection reading (into scratch) while idle.
    return this.target === target ? more : !this.dead;
  }

  fail(error: Error): void {
    if (this.dead) return;
    this.dead = true;
    const target = this.target;
    this.target = undefined;
    target?.failed(error);
  }

  destroy(): void {
    this.fail(new ObjectReadError('AbortError', 'connection closed'));
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.socket.destroy();
  }

  idleFor(ms: number, expired: () => void): void {
    this.idleTimer = setTimeout(() => {
      expired();
      this.destroy();
    }, ms).unref();
    this.socket.unref();
  }

  /** Sends the GET; resolves with the body stream once the head arrived (or rejects with the store's error). */
  get(
    url: URL,
    range: { start: number; end: number } | undefined,
    holder: SlabHolder,
    slab: Slab,
    resume: Resume,
  ): Promise<Readable> {
    return new Promise<Readable>((resolve, reject) => {
      this.send(url, range, new ObjectBody(this, holder, slab, range, resume, resolve, reject));
    });
  }

  /** Sends a GET whose answer goes to `target`. */
  send(url: URL, range: { start: number; end: number } | undefined, target: ReadTarget): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.socket.ref();
    this.target = target;
    const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, 'User-Agent: berth'];
    if (range) lines.push(`Range: bytes=${range.start}-${range.end}`);
    this.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    // The socket may sit paused from the previous response's last read.
    this.socket.resume();
  }

  /** Closes the connection without telling its target, which has given up on it. */
  abandon(): void {
    this.target = undefined;
    this.destroy();
  }

  /** The response ended at its last byte: ready for another request, unless the store said otherwise. */
  finished(keepAlive: boolean): void {
    this.target = undefined;
    if (keepAlive && !this.dead) {
      this.socket.resume();
      this.parked(this);
    } else this.destroy();
  }
}

function networkError(error: Error): Error {
  if (error instanceof ObjectReadError) return error;
  // The code (ECONNREFUSED, ECONNRESET…) is how the store tells an unreachable object store.
  return Object.assign(
    new ObjectReadError('NetworkError', `object store connection: ${error.message}`, undefined, {
      cause: error,
    }),
    { code: (error as NodeJS.ErrnoException).code },
  );
}

/** Where a piped body's chunks go with write callbacks, so their slabs can be reused. */
function reusesWritten(destination: Writable): boolean {
  return (
    destination instanceof ServerResponse ||
    destination instanceof Http2ServerResponse ||
    destination instanceof Socket
  );
}

/** A slab being filled or written out, with the writes of it still in flight. */
interface SlabUse {
  slab: Slab;
  /** Its bytes up to here have landed. */
  filled: number;
  writes: number;
  /** No more reads land in it. */
  retired: boolean;
  /** Where its last byte is in the body (readable mode's release point). */
  bodyEnd: number;
}

/**
 * One response: parses the head in the first slab, then hands the body on as views of its slabs, asking the
 * pool for the next slab while filling one, and pausing the socket while none is granted, while the
 * destination is full, or until someone reads. A body the store cuts short goes on with the answer to a ranged
 * GET on another connection, once the consumer wants more.
 */
class ObjectBody extends Readable implements ReadTarget {
  private current: SlabUse;
  private next: Slab | undefined;
  private asking = false;
  private head: Head | undefined;
  /** Where the body (or the error body) begins in the first slab. */
  private bodyFrom = 0;
  private erroring = false;
  private remaining = 0;
  /** Body bytes handed on so far. */
  private delivered = 0;
  private readonly uses: SlabUse[] = [];
  /** Body bytes that arrived before the consumer did. */
  private early: { use: SlabUse; chunk: Buffer }[] = [];
  private mode: 'undecided' | 'readable' | 'sink' = 'undecided';
  private sink: Writable | undefined;
  private endSink = true;
  private waitingForSlab = false;
  private waitingForDrain = false;
  private waitingForConsumer = true;
  private done = false;
  /** Where the body's first and last bytes are in the object, and the object's size (when the store said). */
  private first = 0;
  private last = -1;
  private total: number | undefined;
  /** A resumed answer's head as it comes, read into its connection's scratch buffer. */
  private resumedHead: Buffer | undefined;
  /** A resumption waits for the consumer (and a slab) before it connects. */
  private resumeDue = false;
  private resumes = 0;
  /** Resumptions since the body last made progress, and how far it had come then. */
  private resumesWithoutProgress = 0;
  private progressMark = -1;

  constructor(
    private connection: Connection,
    private readonly holder: SlabHolder,
    slab: Slab,
    private readonly range: { start: number; end: number } | undefined,
    private readonly source: Resume,
    private resolveHead: ((body: Readable) => void) | undefined,
    private rejectHead: ((error: Error) => void) | undefined,
  ) {
    super({ highWaterMark: slab.bytes.length });
    this.current = this.use(slab);
    this.askForNext();
  }

  private use(slab: Slab): SlabUse {
    const use: SlabUse = { slab, filled: 0, writes: 0, retired: false, bodyEnd: Number.POSITIVE_INFINITY };
    this.uses.push(use);
    return use;
  }

  private askForNext(): void {
    if (this.asking || this.next || this.done) return;
    this.asking = true;
    this.holder.next().then(
      (slab) => {
        this.asking = false;
        if (this.done) return slab.release(true);
        this.next = slab;
        if (this.waitingForSlab) {
          this.waitingForSlab = false;
          this.resumeSocket();
        }
      },
      () => {
        this.asking = false;
      },
    );
  }

  landing(): Uint8Array {
    if (this.current.retired || this.resumedHead) return this.connection.scratch;
    return this.current.slab.bytes.subarray(this.current.filled);
  }

  landed(n: number, landing: Uint8Array): boolean {
    try {
      if (this.resumedHead) {
        this.resumedHeadLanded(n);
        if (this.resumedHead) return true;
      } else if (landing === this.connection.scratch) {
        // The first read of a response, or one after a pause for a slab: copied into the slab (16 KiB at most).
        if (this.current.retired) this.switchSlab();
        const at = this.current.filled;
        this.current.slab.bytes.set(this.connection.scratch.subarray(0, n), at);
        this.took(at, n);
      } else this.took(this.current.filled, n);
      return this.prepareNextRead();
    } catch (error) {
      this.broken(error as Error);
      return false;
    }
  }

  /** `n` bytes of a resumed answer landed in scratch: its head, and maybe the first body bytes after it. */
  private resumedHeadLanded(n: number): void {
    const seen = (this.resumedHead as Buffer).length;
    const bytes = Buffer.concat([this.resumedHead as Buffer, this.connection.scratch.subarray(0, n)]);
    const end = bytes.indexOf('\r\n\r\n', Math.max(0, seen - 3), 'latin1');
    if (end < 0) {
      if (bytes.length >= MAX_HEAD) throw new ObjectReadError('ProtocolError', 'response head too long');
      this.resumedHead = bytes;
      return;
    }
    const head = parseHead(bytes.toString('latin1', 0, end));
    const rest = bytes.subarray(end + 4);
    const from = this.first + this.delivered;
    if (head.status >= 300) throw storeError(head.status, rest.toString('utf8'), ' to a resumed read');
    const range = head.range;
    if (
      head.status !== 206 ||
      head.chunked ||
      head.length !== this.last - from + 1 ||
      range?.start !== from ||
      range.end !== this.last ||
      range.total === undefined ||
      range.total <= this.last ||
      (this.total !== undefined && range.total !== this.total)
    ) {
      // Bytes of another object, or of another part of it: never spliced into this body.
      throw new ObjectReadError(
        'ProtocolError',
        `a resumed read of bytes ${from}-${this.last}/${this.total ?? '*'} was answered HTTP ${head.status}` +
          `${head.chunked ? ', chunked' : ''}, Content-Length ${head.length ?? 'none'}, ` +
          `Content-Range ${head.rangeText ?? 'none'}`,
      );
    }
    this.resumedHead = undefined;
    this.head = head;
    this.remaining = head.length;
    if (rest.length === 0) return;
    // At most one read (SCRATCH_BYTES): a slab not retired has at least MIN_READ free, and a retired one has
    // its successor at hand (the resumption waited for it).
    if (this.current.retired) this.switchSlab();
    const at = this.current.filled;
    this.current.slab.bytes.set(rest, at);
    this.took(at, rest.length);
  }

  /** `n` bytes landed at `at` of the current slab. */
  private took(at: number, n: number): void {
    const use = this.current;
    use.filled = at + n;
    if (this.erroring) {
      this.errorBody();
      return;
    }
    if (this.head) {
      this.deliver(use, at, use.filled);
      return;
    }
    const bytes = use.slab.bytes.subarray(0, use.filled);
    const end = bytes.indexOf('\r\n\r\n', Math.max(0, at - 3), 'latin1');
    if (end < 0) {
      if (use.filled >= MAX_HEAD) throw new ObjectReadError('ProtocolError', 'response head too long');
      return;
    }
    const head = parseHead(bytes.toString('latin1', 0, end));
    this.head = head;
    this.bodyFrom = end + 4;
    if (head.status >= 300) {
      this.erroring = true;
      this.errorBody();
      return;
    }
    if (head.status !== (this.range ? 206 : 200) || head.chunked || head.length === undefined) {
      const how = `${head.chunked ? ', chunked' : ''}${head.length === undefined ? ', no Content-Length' : ''}`;
      throw new ObjectReadError('ProtocolError', `unexpected answer: HTTP ${head.status}${how}`);
    }
    this.remaining = head.length;
    this.first = this.range?.start ?? 0;
    this.last = this.first + head.length - 1;
    const range = head.range;
    if (!this.range) this.total = head.length;
    else if (range?.start === this.first && range.end === this.last) this.total = range.total;
    const resolve = this.resolveHead;
    this.resolveHead = this.rejectHead = undefined;
    this.deliver(use, this.bodyFrom, use.filled);
    if (this.remaining === 0) this.finish();
    resolve?.(this);
  }

  /** A refusal or failure: its XML error body (once whole, or as much as came) names the code. */
  private errorBody(): void {
    const head = this.head as Head;
    const { filled, slab } = this.current;
    const got = filled - this.bodyFrom;
    const body = slab.bytes.toString('utf8', this.bodyFrom, filled);
    const whole =
      (head.length !== undefined && got >= head.length) ||
      body.includes('</Error>') ||
      got >= 4096 ||
      slab.bytes.length - filled < MIN_READ;
    if (!whole) return;
    this.fail(storeError(head.status, body));
  }

  /** Hands on body bytes `from`..`to` of `use`'s slab. */
  private deliver(use: SlabUse, from: number, to: number): void {
    const length = to - from;
    if (length <= 0) return;
    if (length > this.remaining) {
      throw new ObjectReadError('ProtocolError', 'the object store sent more than its Content-Length');
    }
    this.remaining -= length;
    this.delivered += length;
    const chunk = use.slab.bytes.subarray(from, to);
    if (this.mode === 'sink') this.write(use, chunk);
    else if (this.mode === 'readable') {
      if (!this.push(chunk)) this.waitingForConsumer = true;
    } else this.early.push({ use, chunk });
    if (this.remaining === 0) this.finish();
  }

  private write(use: SlabUse, chunk: Buffer): void {
    const sink = this.sink as Writable;
    use.writes++;
    const more = sink.write(chunk, () => {
      use.writes--;
      this.maybeRelease(use);
    });
    if (!more && !this.waitingForDrain) {
      this.waitingForDrain = true;
      sink.once('drain', () => {
        this.waitingForDrain = false;
        this.resumeSocket();
      });
    }
  }

  /** After a read: where the next lands; false pauses the socket (no slab granted, or nobody reading). */
  private prepareNextRead(): boolean {
    if (this.done) return false;
    const current = this.current;
    if (this.head && !current.retired && current.slab.bytes.length - current.filled < MIN_READ) {
      if (this.next) this.switchSlab();
      else {
        // Until a slab is granted, the socket pauses; the read that resumes it lands in scratch.
        this.retire(current);
        this.askForNext();
        this.waitingForSlab = true;
      }
    }
    return !this.paused();
  }

  private retire(use: SlabUse): void {
    if (use.retired) return;
    use.retired = true;
    use.bodyEnd = this.delivered;
    this.maybeRelease(use);
  }

  private switchSlab(): void {
    this.retire(this.current);
    this.current = this.use(this.next as Slab);
    this.next = undefined;
    this.askForNext();
  }

  private paused(): boolean {
    return (
      this.waitingForSlab || this.waitingForDrain || (this.head !== undefined && this.waitingForConsumer)
    );
  }

  private resumeSocket(): void {
    if (this.done || this.paused()) return;
    if (this.resumeDue) {
      this.resumeDue = false;
      void this.reconnect();
    } else this.connection.socket.resume();
  }

  /**
   * The connection failed or the answer went wrong: a body the store cut short resumes (within the budget);
   * anything else fails the read.
   */
  private broken(error: Error): void {
    if (this.done) return;
    const cut =
      this.rejectHead === undefined && this.head !== undefined && !this.erroring && this.remaining > 0;
    if (!cut || !resumable(error)) {
      this.fail(error);
      return;
    }
    if (this.delivered > this.progressMark) {
      this.progressMark = this.delivered;
      this.resumesWithoutProgress = 0;
    }
    if (this.resumesWithoutProgress >= RESUMES_WITHOUT_PROGRESS || this.resumes >= MAX_RESUMES) {
      this.fail(error);
      return;
    }
    this.resumes++;
    this.resumesWithoutProgress++;
    this.connection.abandon();
    this.resumedHead = undefined;
    const due = () => {
      this.resumeDue = true;
      this.resumeSocket();
    };
    // At once after progress; a store failing again gets a moment first, as a failing first request does.
    if (this.resumesWithoutProgress > 1) setTimeout(due, RETRY_DELAY_MS * (this.resumesWithoutProgress - 1));
    else due();
  }

  /** Asks for the rest of the body (bytes first + delivered to last) on another connection. */
  private async reconnect(): Promise<void> {
    let connection: Connection | undefined;
    try {
      const url = await this.source.url();
      if (this.done) return;
      connection = await this.source.connection(url);
      if (this.done) {
        connection.destroy();
        return;
      }
      this.connection = connection;
      this.resumedHead = Buffer.alloc(0);
      connection.send(url, { start: this.first + this.delivered, end: this.last }, this);
    } catch (error) {
      if (connection !== this.connection) connection?.destroy();
      this.broken(error as Error);
    }
  }

  /** A retired slab goes back to the pool once nothing of it is still in use. */
  private maybeRelease(use: SlabUse): void {
    if (!use.retired || use.writes > 0) return;
    if (this.mode === 'sink') {
      this.release(use, true);
      return;
    }
    // Read as a stream: once the consumer has taken its bytes (they are the consumer's now, never reused).
    if (this.mode === 'readable' && this.delivered - this.readableLength >= use.bodyEnd)
      this.release(use, false);
  }

  private release(use: SlabUse, reusable: boolean): void {
    const at = this.uses.indexOf(use);
    if (at < 0) return;
    this.uses.splice(at, 1);
    use.slab.release(reusable);
  }

  /** Every slab given back (none reused: something may still refer to them) and the holder ended. */
  private releaseAll(): void {
    for (const use of [...this.uses]) this.release(use, false);
    this.next?.release(false);
    this.next = undefined;
    this.holder.end();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    for (const use of this.uses) this.retire(use);
    this.next?.release(true);
    this.next = undefined;
    this.connection.finished((this.head as Head).keepAlive);
    if (this.mode === 'sink') this.endToSink();
    else if (this.mode === 'readable') this.push(null);
  }

  private endToSink(): void {
    if (this.endSink) this.sink?.end();
    // The stream itself ends too, for those waiting on it (Fastify, pipeline).
    this.push(null);
    this.resume();
  }

  /** The connection failed, or the answer was wrong or a refusal: the connection is not reused. */
  private fail(error: Error): void {
    const reject = this.rejectHead;
    this.resolveHead = this.rejectHead = undefined;
    if (!this.done) {
      this.done = true;
      this.connection.destroy();
    }
    if (reject) {
      this.releaseAll();
      reject(error);
    } else this.destroy(error);
  }

  failed(error: Error): void {
    if (this.done && !this.rejectHead) return;
    this.broken(error);
  }

  /**
   * Each read by the consumer (for await, 'data', pipe) may free a slab: _read alone would not tell, as it is
   * not called again until the next push, which may wait for that very slab.
   */
  override read(size?: number): unknown {
    const chunk = super.read(size);
    if (this.mode === 'readable') for (const use of [...this.uses]) this.maybeRelease(use);
    return chunk;
  }

  override _read(): void {
    if (this.mode === 'sink') return;
    if (this.mode === 'undecided') {
      this.mode = 'readable';
      for (const { chunk } of this.early) this.push(chunk);
      this.early = [];
      if (this.done) this.push(null);
    }
    for (const use of [...this.uses]) this.maybeRelease(use);
    if (this.waitingForConsumer) {
      this.waitingForConsumer = false;
      this.resumeSocket();
    }
  }

  override pipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T {
    const sink = destination as unknown as Writable;
    if (this.mode !== 'undecided' || !reusesWritten(sink)) return super.pipe(destination, options);
    this.mode = 'sink';
    this.sink = sink;
    this.endSink = options?.end !== false;
    sink.emit('pipe', this);
    sink.once('error', () => {
      if (!this.done) this.destroy(new ObjectReadError('AbortError', 'the destination failed'));
    });
    // Once the destination closed, its writes are done or dropped: whatever is still held goes back.
    sink.once('close', () => {
      if (!this.done) this.destroy(new ObjectReadError('AbortError', 'the destination closed'));
      else this.releaseAll();
    });
    for (const { use, chunk } of this.early) this.write(use, chunk);
    this.early = [];
    for (const use of [...this.uses]) this.maybeRelease(use);
    if (this.done) this.endToSink();
    else {
      this.waitingForConsumer = false;
      this.resumeSocket();
    }
    return destination;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.done) {
      this.done = true;
      this.connection.destroy();
    }
    // Ended whole into a destination: slabs still being written go back as their writes complete, or when
    // the destination closes. Otherwise nothing is reused.
    if (error || this.mode !== 'sink' || this.remaining > 0) this.releaseAll();
    callback(error);
  }
}
