import type { z } from 'zod';
import { RegistryError } from '../registry/index.js';
import { BERTH_VERSION } from '../scanning/version.js';
import { SYSTEM_ADMINS } from './access.js';
import { type ApiRoute, route } from './route.js';
import { SystemHealth } from './system-schemas.js';

/** What the server tells the API about itself: the probes /readyz runs, and what it runs on. */
export interface SystemHealthSource {
  /** The dependencies by name (metadata, storage); each throws when its dependency fails. */
  checks: Record<string, () => Promise<void>>;
  /** False once shutdown has begun. */
  isAccepting(): boolean;
  metadata: 'sqlite' | 'postgres';
  storage: 'filesystem' | 's3';
  startedAt: number;
}

/** A probe that has not answered within this is reported down (as /readyz does). */
const PROBE_TIMEOUT_MS = 5000;

async function probe(
  name: string,
  check: () => Promise<void>,
): Promise<z.input<typeof SystemHealth>['checks'][number]> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${PROBE_TIMEOUT_MS} ms`), PROBE_TIMEOUT_MS);
  });
  const error = await Promise.race([
    check().then(
      () => null,
      (failure: unknown) => (failure instanceof Error ? failure.message || failure.name : String(failure)),
    ),
    timeout,
  ]);
  clearTimeout(timer);
  return { name, up: error === null, error, ms: Math.round(performance.now() - started) };
}

export const systemRoutes: ApiRoute[] = [
  route({
    method: 'GET',
    path: '/system/health',
    operationId: 'getSystemHealth',
    summary: "This node's health: the database and storage probed now, version, uptime, drivers",
    task: 'reading the system health',
    tag: 'system',
    gate: 'systemAdmin',
    access: SYSTEM_ADMINS,
    success: {
      status: 200,
      description: 'The health (also when a dependency is down)',
      schema: SystemHealth,
    },
    errors: [404],
    async handler(call): Promise<z.input<typeof SystemHealth>> {
      const source = call.options.health;
      if (!source) throw new RegistryError('NOT_FOUND', { message: 'this server reports no health' });
      const checks = await Promise.all(
        Object.entries(source.checks).map(([name, check]) => probe(name, check)),
      );
      const accepting = source.isAccepting();
      return {
        status: !accepting ? 'shutting down' : checks.every((check) => check.up) ? 'ready' : 'unavailable',
        checks,
        version: BERTH_VERSION,
        node: process.version,
        startedAt: source.startedAt,
        metadata: source.metadata,
        storage: source.storage,
      };
    },
  }),
];
