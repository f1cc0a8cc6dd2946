import type { Readable } from 'node:stream';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { Digest, MountPolicy, Reader, Registry, RegistryError } from '../registry/index.js';

/** A pulled name that stands for a proxy project's repository (Docker's registry-mirrors, containerd's `ns=`). */
export interface Mirrored {
  /** The repository that serves it. */
  name: string;
  /** `mirror`: served as asked instead when the caller's token names the name itself (the client means it). */
  via: 'mirror' | 'ns';
  /** containerd's `ns=`, carried into the token realm so that the token endpoint maps the name alike. */
  ns?: string;
}

/** What a /v2 request needs to be allowed to do. */
export type Need =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'repository'; name: string; action: 'pull' | 'push' | 'delete'; mirror?: Mirrored };

/** Who is calling, as far as the handlers care once the guard has let the request through. */
export interface Caller {
  /** Token subject: a username, `robot$<name>`, or '' when anonymous. */
  subject: string;
  kind: 'user' | 'robot' | 'anonymous';
  /** For mounts: may the caller read this other repository? */
  canPull(repository: string): Promise<boolean>;
  /** For _catalog: the projects whose repositories the caller may see. */
  visibleProjects(): Promise<string[] | 'all'>;
  /** The client address (after trusted-proxy handling), for audit events of pull policies. */
  sourceIp?: string;
  /** For pull policies: may the caller pull from this repository what a policy refuses? */
  mayBypassPolicy?(repository: string): Promise<boolean>;
  /** The need had a mirror, but the caller's token names the name as asked: serve that, not the mirror. */
  asRequested?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the guard found the caller to be, also when it then refused the request (for the audit log). */
    berthCaller?: Caller;
  }
}

/**
 * A pull-through cache (replication/proxy) answering for the repositories of proxy projects; each method
 * answers undefined for a repository of an ordinary project.
 */
export interface PullThrough {
  /** The refusal of a push into a proxy project. */
  refuseWrite(repository: string): Promise<RegistryError | undefined>;
  /** The manifest to serve, from the cache or the upstream; `stale` when the upstream could not confirm it. */
  manifest(
    repository: string,
    reference: string,
    accept: string | undefined,
    log: FastifyBaseLogger,
  ): Promise<
    { digest: string; mediaType: string; size: number; content: Buffer; stale?: string } | undefined
  >;
  /** For a blob the repository does not hold: fetched (then `stored`), its size, or its bytes as they arrive. */
  blob(
    repository: string,
    digest: Digest,
    method: 'GET' | 'HEAD',
    ranged: boolean,
    log: FastifyBaseLogger,
  ): Promise<
    | { kind: 'stored' }
    | { kind: 'head'; size: number }
    | { kind: 'stream'; size: number; body: Readable }
    | undefined
  >;
}

/** What /v2 handlers need, handed in by the server (no module-level singletons). */
export interface DistributionOptions {
  registry: Registry;
  deletesEnabled: boolean;
  /** Which repositories a mount may take blobs from when no guard runs (auth off): any. */
  mountPolicy?: MountPolicy;
  /**
   * Authentication and authorization: resolves the caller or throws (401 with a challenge, 403, 429).
   * Absent: everyone may do everything (auth disabled).
   */
  guard?: (request: FastifyRequest, need: Need) => Promise<Caller>;
  /** Called once a request has been answered (or failed), for the audit log. */
  onAnswered?: (call: Call, need: Need, status: number) => void;
  /** Bytes received in manifest bodies, for metrics (blob bytes are counted by the upload service). */
  onBytesIn?: (bytes: number) => void;
  /** Pull-through caching for proxy projects; absent: no project is one. */
  pullThrough?: PullThrough;
  /**
   * The proxy project's repository a pulled name stands for (replication/proxy MirrorNames), given the
   * request's `ns=`; undefined: served as it is. Absent: no name is mirrored.
   */
  mirror?: (name: string, ns: string | undefined) => Promise<Mirrored | undefined>;
}

/** One matched /v2 request. */
export interface Call {
  request: FastifyRequest;
  reply: FastifyReply;
  /** Path parameters from the route pattern: name, reference, digest, uuid. */
  params: Record<string, string>;
  query: URLSearchParams;
  options: DistributionOptions;
  /** Set when a guard let the request through. */
  caller?: Caller;
}

export type Handler = (call: Call) => Promise<unknown>;

/** The repository name of a call, already checked against the grammar by the router. */
export function repositoryOf(call: Call): string {
  return call.params.name as string;
}

/** The reader a pull policy sees: the caller the guard let through, or anonymous when auth is off. */
export function readerOf(call: Call): Reader {
  const caller = call.caller;
  const agent = call.request.headers['user-agent'];
  return {
    actor: caller?.subject || 'anonymous',
    actorKind: caller?.kind ?? 'anonymous',
    sourceIp: caller?.sourceIp ?? call.request.ip,
    userAgent: typeof agent === 'string' ? agent : undefined,
    mayBypass: async (repository) => (await caller?.mayBypassPolicy?.(repository)) ?? false,
  };
}
