// A TCP proxy the fault tests put between Berth and a real backend (Swift's S3 API, PostgreSQL) to inject
// network faults: connections reset, traffic black-holed, or delayed. It forwards bytes, nothing more: the
// real service answers every request that gets through.
import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * pass: forward everything. refuse: reset every connection, new or open. blackhole: accept and keep
 * connections open but forward nothing (a peer that hangs). delay: forward each chunk `delayMs` late.
 */
export type ProxyMode = 'pass' | 'refuse' | 'blackhole' | 'delay';

/** Connections cut part-way through what the backend sends (see FaultProxy.cut). */
export interface CutPlan {
  /** Bytes from the backend a connection forwards (counted from when the cut was armed) before it is cut. */
  afterBytes: number;
  /** How many connections are cut, one after another (1). */
  times?: number;
  /**
   * reset (the default): both halves reset. end: the client's half closed cleanly, as a backend ending a
   * body short of its Content-Length. stall: nothing more forwarded, the connection left open.
   */
  how?: 'reset' | 'end' | 'stall';
  /** The mode to switch to once the last cut is made. */
  thenMode?: ProxyMode;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  /** Bytes forwarded from the backend since the cut was armed. */
  down: number;
  stalled: boolean;
}

export class FaultProxy {
  private mode: ProxyMode = 'pass';
  private delayMs = 0;
  private readonly sockets = new Set<Socket>();
  private readonly pairs = new Set<Pair>();
  private plan: CutPlan | undefined;
  private cutsLeft = 0;
  /** Connections accepted so far, for assertions that traffic went through the proxy. */
  accepted = 0;
  /** Connections cut by a plan so far. */
  cuts = 0;
  /** The heads of HTTP requests sent through (the last 1000), for assertions on what a client asked. */
  readonly requests: string[] = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<FaultProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const address = server.address();
    if (typeof address !== 'object' || !address) throw new Error('proxy has no port');
    const proxy = new FaultProxy(server, address.port);
    server.on('connection', (client) => proxy.accept(client, target));
    return proxy;
  }

  /**
   * Switches the mode. Entering refuse or blackhole resets the connections open now (so that none slips
   * through), and so does leaving blackhole (their streams lost bytes).
   */
  set(mode: ProxyMode, delayMs = 0): void {
    const reset = mode === 'refuse' || mode === 'blackhole' || this.mode === 'blackhole';
    this.mode = mode;
    this.delayMs = delayMs;
    if (reset) for (const socket of this.sockets) socket.resetAndDestroy();
  }

  /** Arms a cut: the next connections to pass `afterBytes` from the backend are cut there. */
  cut(plan: CutPlan): void {
    this.plan = plan;
    this.cutsLeft = plan.times ?? 1;
    for (const pair of this.pairs) pair.down = 0;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, target: { host: string; port: number }): void {
    this.accepted++;
    if (this.mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    const pair: Pair = { client, upstream, down: 0, stalled: false };
    this.pairs.add(pair);
    client.once('close', () => this.pairs.delete(pair));
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => {});
      socket.once('close', () => {
        this.sockets.delete(socket);
        // Half of a pair gone: end the other half the same way.
        const other = socket === client ? upstream : client;
        if (socket.errored || this.mode === 'refuse') other.resetAndDestroy();
        else other.end();
      });
    }
    client.on('data', (chunk: Buffer) => {
      this.record(chunk);
      this.forward(upstream, chunk);
    });
    upstream.on('data', (chunk: Buffer) => this.forwardDown(pair, chunk));
  }

  /** Backend to client, through an armed cut. */
  private forwardDown(pair: Pair, chunk: Buffer): void {
    if (pair.stalled) return;
    const room = (this.plan?.afterBytes ?? 0) - pair.down;
    if (!this.plan || this.cutsLeft === 0 || chunk.length <= room) {
      pair.down += chunk.length;
      this.forward(pair.client, chunk);
      return;
    }
    if (room > 0) this.forward(pair.client, chunk.subarray(0, room));
    const { how = 'reset', thenMode } = this.plan;
    this.cuts++;
    this.cutsLeft--;
    if (how === 'stall') pair.stalled = true;
    else if (how === 'end') {
      pair.client.end();
      pair.upstream.destroy();
    } else {
      pair.client.resetAndDestroy();
      pair.upstream.resetAndDestroy();
    }
    if (this.cutsLeft === 0 && thenMode) this.set(thenMode);
  }

  private record(chunk: Buffer): void {
    // A request head starts with its method in capitals.
    const first = chunk[0] ?? 0;
    if (first < 0x41 || first > 0x5a) return;
    const text = chunk.toString('latin1', 0, Math.min(chunk.length, 8192));
    if (!/^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/.test(text)) return;
    const end = text.indexOf('\r\n\r\n');
    this.requests.push(end < 0 ? text : text.slice(0, end));
    if (this.requests.length > 1000) this.requests.shift();
  }

  private forward(to: Socket, chunk: Buffer): void {
    if (this.mode === 'pass') to.write(chunk);
    else if (this.mode === 'delay') setTimeout(() => to.writable && to.write(chunk), this.delayMs);
    // blackhole: dropped; refuse: the sockets are being reset.
  }
}
