import type { FastifyInstance } from 'fastify';

/** How long after its last response a server still counts as serving (a client between two requests). */
const LINGER_MS = 250;

/**
 * Whether this process is serving requests, now or a moment ago. Background work that shares the event
 * loop's thread (garbage collection on the embedded database) takes a smaller share of it while requests
 * are being served, and goes at full speed on a quiet server.
 */
export class RequestActivity {
  private inFlight = 0;
  private lastEnded = Number.NEGATIVE_INFINITY;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Counts every request from its arrival until its connection's response ends or is cut. */
  track(app: FastifyInstance): void {
    app.addHook('onRequest', async (_request, reply) => {
      this.started();
      // 'close' comes once the response is sent or the connection is gone, whichever way a request ends.
      reply.raw.once('close', () => this.ended());
    });
  }

  started(): void {
    this.inFlight++;
  }

  ended(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    this.lastEnded = this.now();
  }

  get busy(): boolean {
    return this.inFlight > 0 || this.now() - this.lastEnded < LINGER_MS;
  }
}
