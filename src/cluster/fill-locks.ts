import type { Worker } from 'node:cluster';
import pg from 'pg';

/**
 * Locks that let one process of a cluster do a piece of work that any of them could do (the pull-through
 * cache's fetch of one blob from its upstream) while the others wait for its result. `tryAcquire` never waits:
 * a lock another process holds — or this one, for another caller — answers undefined, and the caller polls.
 * A lock dies with the process that holds it, so a waiter takes over from a holder that crashed.
 */
export interface FillLocks {
  /** The lock of `key`, or undefined while any process (this one included) holds it. Throws when it cannot tell. */
  tryAcquire(key: string): Promise<FillLease | undefined>;
  close(): Promise<void>;
}

export interface FillLease {
  /** Lets the lock go (once; later calls do nothing). */
  release(): void;
}

/** One process alone: the lock is a set of keys in memory. */
export class LocalFillLocks implements FillLocks {
  private readonly held = new Set<string>();

  async tryAcquire(key: string): Promise<FillLease | undefined> {
    if (this.held.has(key)) return undefined;
    this.held.add(key);
    return once(() => this.held.delete(key));
  }

  async close(): Promise<void> {}
}

const LOCK = 'select pg_try_advisory_lock(hashtextextended($1, 0)) as locked';
const UNLOCK = 'select pg_advisory_unlock(hashtextextended($1, 0))';

/**
 * PostgreSQL session advisory locks (64-bit keys hashed from the key text), all of this process's on one
 * connection of their own: never a pool connection, so that however many blobs are being fetched, the pool
 * stays free for the queries that commit them. When the process dies, PostgreSQL ends its session and every
 * lock it held goes with it. When the connection alone is lost, so are its locks (a waiter elsewhere may then
 * fetch the same blob: a duplicate fetch, never a wrong one); the next `tryAcquire` connects again.
 */
export class PostgresFillLocks implements FillLocks {
  private session: Promise<pg.Client> | undefined;
  private readonly held = new Set<string>();
  private closed = false;

  constructor(private readonly url: string) {}

  async tryAcquire(key: string): Promise<FillLease | undefined> {
    if (this.held.has(key)) return undefined;
    if (this.closed) throw new Error('fill locks closed');
    // Taken here at once: a second caller of this process must not ask PostgreSQL, where this session's lock
    // would be granted to it again (session advisory locks are re-entrant).
    this.held.add(key);
    try {
      const session = this.connect();
      const client = await session;
      const { rows } = await client.query<{ locked: boolean }>(LOCK, [key]);
      if (rows[0]?.locked !== true) {
        this.held.delete(key);
        return undefined;
      }
      return once(() => {
        this.held.delete(key);
        // A lock of a session since lost is gone already; never unlock on its successor.
        if (this.session === session) client.query(UNLOCK, [key]).catch(() => {});
      });
    } catch (error) {
      this.held.delete(key);
      throw error;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const session = this.session;
    this.session = undefined;
    await session?.then((client) => client.end()).catch(() => {});
  }

  private connect(): Promise<pg.Client> {
    if (this.session) return this.session;
    const client = new pg.Client({
      connectionString: this.url,
      connectionTimeoutMillis: 10_000,
      query_timeout: 10_000,
      keepAlive: true,
      application_name: 'berth fill locks',
    });
    const session = client.connect().then(() => client);
    const forget = () => {
      if (this.session !== session) return;
      this.session = undefined;
      client.end().catch(() => {});
    };
    client.on('error', forget);
    client.on('end', forget);
    session.catch(forget);
    this.session = session;
    return session;
  }
}

// ---------------------------------------------------------------------------------------------------------
// `berth serve --workers N` on the embedded database: the primary keeps the table of locks, the workers ask it
// over the cluster IPC channel. The primary learns of a worker's death (its 'exit'), and drops its locks then.

interface AcquireMessage {
  berthFillLock: 'acquire';
  id: number;
  key: string;
}
interface ReleaseMessage {
  berthFillLock: 'release';
  key: string;
}
interface ReplyMessage {
  berthFillLock: 'reply';
  id: number;
  granted: boolean;
}
type FillLockMessage = AcquireMessage | ReleaseMessage | ReplyMessage;

function isFillLockMessage(message: unknown): message is FillLockMessage {
  return typeof message === 'object' && message !== null && 'berthFillLock' in message;
}

/** How long a worker waits for the primary's answer before it gives up coordinating (and fetches itself). */
const PRIMARY_ANSWER_MS = 5_000;

/** A worker's side: each acquire is a question to the primary. */
export class WorkerFillLocks implements FillLocks {
  private readonly held = new Set<string>();
  private readonly asked = new Map<number, (granted: boolean) => void>();
  private next = 0;
  private readonly onMessage = (message: unknown) => {
    if (!isFillLockMessage(message) || message.berthFillLock !== 'reply') return;
    const answer = this.asked.get(message.id);
    this.asked.delete(message.id);
    answer?.(message.granted);
  };

  constructor() {
    process.on('message', this.onMessage);
  }

  async tryAcquire(key: string): Promise<FillLease | undefined> {
    if (this.held.has(key)) return undefined;
    const send = process.send?.bind(process);
    if (!send || !process.connected) throw new Error('the primary process is gone');
    this.held.add(key);
    const id = ++this.next;
    let granted: boolean;
    try {
      granted = await new Promise<boolean>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.asked.delete(id);
          // A late grant must not stay with this worker for good.
          if (process.connected) send({ berthFillLock: 'release', key } satisfies ReleaseMessage);
          reject(new Error(`the primary process did not answer within ${PRIMARY_ANSWER_MS} ms`));
        }, PRIMARY_ANSWER_MS);
        this.asked.set(id, (answer) => {
          clearTimeout(timer);
          resolve(answer);
        });
        send({ berthFillLock: 'acquire', id, key } satisfies AcquireMessage);
      });
    } catch (error) {
      this.held.delete(key);
      throw error;
    }
    if (!granted) {
      this.held.delete(key);
      return undefined;
    }
    return once(() => {
      this.held.delete(key);
      if (process.connected) send({ berthFillLock: 'release', key } satisfies ReleaseMessage);
    });
  }

  async close(): Promise<void> {
    process.off('message', this.onMessage);
  }
}

/** The primary's side: which worker holds which key. */
export class FillLockTable {
  private readonly owners = new Map<string, number>();

  /** Answers a worker's fill-lock message; false for any other message. */
  handle(worker: Worker, message: unknown): boolean {
    if (!isFillLockMessage(message)) return false;
    if (message.berthFillLock === 'acquire') {
      const owner = this.owners.get(message.key);
      const granted = owner === undefined;
      if (granted) this.owners.set(message.key, worker.id);
      if (worker.isConnected()) {
        worker.send({ berthFillLock: 'reply', id: message.id, granted } satisfies ReplyMessage);
      }
    } else if (message.berthFillLock === 'release' && this.owners.get(message.key) === worker.id) {
      this.owners.delete(message.key);
    }
    return true;
  }

  /** Drops the locks of a worker that exited. */
  workerGone(worker: Worker): void {
    for (const [key, owner] of this.owners) if (owner === worker.id) this.owners.delete(key);
  }
}

function once(release: () => void): FillLease {
  let done = false;
  return {
    release() {
      if (done) return;
      done = true;
      release();
    },
  };
}
