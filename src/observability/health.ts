import type { FastifyInstance } from 'fastify';
import type { Metrics } from './metrics.js';

export interface HealthOptions {
  metrics: Metrics;
  /** Checks that dependencies answer (database, storage); throws when one does not. */
  check: () => Promise<void>;
  /** False once shutdown has begun, so load balancers stop sending traffic. */
  isAccepting: () => boolean;
}

/** /healthz (the process is alive), /readyz (it can serve), /metrics (Prometheus). */
export async function healthRoutes(app: FastifyInstance, options: HealthOptions): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    if (!options.isAccepting()) return reply.code(503).send({ status: 'shutting down' });
    try {
      await options.check();
      return { status: 'ready' };
    } catch (error) {
      return reply.code(503).send({ status: 'unavailable', error: (error as Error).message });
    }
  });
  app.get('/metrics', async (_request, reply) => {
    reply.type(options.metrics.registry.contentType);
    return options.metrics.registry.metrics();
  });
}
