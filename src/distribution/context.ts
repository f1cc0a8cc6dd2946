import type { FastifyReply, FastifyRequest } from 'fastify';
import type { MountPolicy, Registry } from '../registry/index.js';

/** What /v2 handlers need, handed in by the server (no module-level singletons). */
export interface DistributionOptions {
  registry: Registry;
  deletesEnabled: boolean;
  /** Which repositories a mount may take blobs from; everything until auth narrows it. */
  mountPolicy?: MountPolicy;
  /** Bytes received in manifest bodies, for metrics (blob bytes are counted by the upload service). */
  onBytesIn?: (bytes: number) => void;
}

/** One matched /v2 request. */
export interface Call {
  request: FastifyRequest;
  reply: FastifyReply;
  /** Path parameters from the route pattern: name, reference, digest, uuid. */
  params: Record<string, string>;
  query: URLSearchParams;
  options: DistributionOptions;
}

export type Handler = (call: Call) => Promise<unknown>;

/** The repository name of a call, already checked against the grammar by the router. */
export function repositoryOf(call: Call): string {
  return call.params.name as string;
}
