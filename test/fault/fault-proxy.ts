// A TCP proxy the fault tests put between Berth and a real backend (Swift's S3 API, PostgreSQL) to inject
// network faults: connections reset, traffic black-holed, or delayed. It forwards bytes, nothing more: the
// real service answers every request that gets through.
import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * pass: forward everything. refuse: reset every connection, new or open. blackhole: accept and keep
 * connections open but forward nothing (a peer that hangs). delay: forward each chunk `delayMs` late.
 */
export type ProxyMode = 'pass' | 'refuse' | 'blackhole' | 'delay';

export class FaultProxy {
  private mode: ProxyMode = 'pass';
  private delayMs = 0;
  private readonly sockets = new Set<Socket>();
  /** Connections accepted so far, for assertions that traffic went through the proxy. */
  accepted = 0;

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
    client.on('data', (chunk: Buffer) => this.forward(upstream, chunk));
    upstream.on('data', (chunk: Buffer) => this.forward(client, chunk));
  }

  private forward(to: Socket, chunk: Buffer): void {
    if (this.mode === 'pass') to.write(chunk);
    else if (this.mode === 'delay') setTimeout(() => to.writable && to.write(chunk), this.delayMs);
    // blackhole: dropped; refuse: the sockets are being reset.
  }
}
