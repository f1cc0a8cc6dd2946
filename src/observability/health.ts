import type { FastifyInstance } from 'fastify';
import type { Metrics } from './metrics.js';

export interface HealthOptions {
  metrics: Metrics;
  /** Probes of the dependencies (e.g. metadata, storage) by name; each throws when its dependency fails. */
  checks: Record<string, () => Promise<void>>;
  /** False once shutdown has begun, so load balancers stop sending traffic. */
  isAccepting: () => boolean;
  /** How long a probe's outcome is reused, so that frequent /readyz polls cost nothing (1 s by default). */
  cacheMs?: number;
  /** A probe that has not answered within this fails as timed out (5 s by default). */
  timeoutMs?: number;
}

/** A probe run at most once per `cacheMs`: concurrent and following callers share its outcome. */
function cachedProbe(
  probe: () => Promise<void>,
  cacheMs: number,
  timeoutMs: number,
): () => Promise<string | undefined> {
  let last: { at: number; outcome: Promise<string | undefined> } | undefined;
  return () => {
    if (last && Date.now() - last.at < cacheMs) return last.outcome;
    const outcome = new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
      const settle = (error?: string) => {
        clearTimeout(timer);
        resolve(error);
      };
      probe().then(
        () => settle(),
        (error: Error) => settle(error.message || error.name),
      );
    });
    // Cached from when the probe settles, so a slow probe is not started again meanwhile.
    const entry = { at: Number.POSITIVE_INFINITY, outcome };
    last = entry;
    void outcome.then(() => {
      entry.at = Date.now();
    });
    return outcome;
  };
}

/** /healthz (the process is alive), /readyz (it can serve), /metrics (Prometheus). */
export async function healthRoutes(app: FastifyInstance, options: HealthOptions): Promise<void> {
  const { cacheMs = 1000, timeoutMs = 5000 } = options;
  const probes = Object.entries(options.checks).map(
    ([name, probe]) => [name, cachedProbe(probe, cacheMs, timeoutMs)] as const,
  );
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    if (!options.isAccepting()) return reply.code(503).send({ status: 'shutting down' });
    const outcomes = await Promise.all(probes.map(async ([name, probe]) => [name, await probe()] as const));
    const failed = outcomes.filter(([, error]) => error !== undefined);
    if (failed.length === 0) return { status: 'ready' };
    return reply.code(503).send({
      status: 'unavailable',
      error: failed.map(([name, error]) => `${name}: ${error}`).join('; '),
      checks: Object.fromEntries(outcomes.map(([name, error]) => [name, error ?? 'ok'])),
    });
  });
  app.get('/metrics', async (_request, reply) => {
    reply.type(options.metrics.registry.contentType);
    return options.metrics.registry.metrics();
  });
}
