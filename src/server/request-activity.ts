import type { FastifyInstance } from 'fastify';
import { isProbe } from './shutdown-gate.js';

/** How long after its last response a server still counts as serving (a client between two requests). */
const LINGER_MS = 100;

/**
 * Whether this process is serving requests, now or a moment ago. Garbage collection, which shares the event
 * loop's thread and the database with requests, takes a smaller share of both while they are being served,
 * and goes at full speed on a quiet server.
 */
export class RequestActivity {
  private inFlight = 0;
  private lastEnded = Number.NEGATIVE_INFINITY;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /**
   * Counts every request from its arrival until its response ends or is cut, except the probes: a monitor
   * polling /metrics every few seconds should not slow a run down.
   */
  track(app: FastifyInstance): void {
    app.addHook('onRequest', async (request, reply) => {
      if (isProbe(request)) return;
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
