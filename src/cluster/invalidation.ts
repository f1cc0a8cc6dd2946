/** A change one node made that other nodes' in-memory caches must forget. */
export type Invalidation =
  | { kind: 'manifest-deleted'; repository: string; digest: string }
  | { kind: 'tag-changed'; repository: string; tag: string }
  /** A manifest with this `subject` was pushed (a signature, an SBOM, …): what is known about the subject changed. */
  | { kind: 'referrers-changed'; repository: string; subject: string }
  /** A project's trust configuration or signature policy changed (signatures/). */
  | { kind: 'trust-changed'; project: string }
  /** A project's scanning settings changed (scanning/). */
  | { kind: 'scanning-changed'; project: string }
  /** An image's scan report changed: scanned, re-matched, or queued again (scanning/). */
  | { kind: 'scan-changed'; repository: string; digest: string }
  /** A project's tag immutability rules changed (lifecycle/). */
  | { kind: 'immutability-changed'; project: string }
  /** A project was created, deleted, made public or private, or its members or push allowlist changed. */
  | { kind: 'project-changed'; project: string }
  /** "Sign out everywhere": the subject's tokens issued under an older session generation are void. */
  | { kind: 'sessions-revoked'; subject: string; generation: number }
  /** One of the subject's credentials was revoked, rotated or disabled (robot, access token, CLI secret). */
  | { kind: 'credentials-changed'; subject: string }
  /** Everything may be stale (for instance after the feed reconnected and may have missed events). */
  | { kind: 'all' };

/**
 * Carries invalidations between the processes that share one metadata database. A process never receives
 * its own messages: it invalidated its cache before publishing.
 */
export interface InvalidationBus {
  /** Whether other processes share the database (then caches must not hold what they can change unseen). */
  readonly shared: boolean;
  /**
   * True while this process may be missing other processes' events (the change feed is down and reconnecting):
   * caches then serve what they hold but keep nothing new, and forget everything when the feed is back ('all').
   */
  readonly deaf?: boolean;
  publish(event: Invalidation): Promise<void>;
  /** Several events at once, in order: one round trip where the transport allows (a collector's batch). */
  publishAll(events: Invalidation[]): Promise<void>;
  /**
   * The notification that tells the other processes of `event`, for a writer to send from its own statement
   * (PostgreSQL: pg_notify, delivered at that statement's commit and never without it): the event then needs
   * no publish, and no round trip of its own. Undefined where the bus has no such thing.
   */
  notification?(event: Invalidation): Notification | undefined;
  subscribe(handler: (event: Invalidation) => void): void;
  close(): Promise<void>;
}

/** A PostgreSQL NOTIFY: pg_notify(channel, payload). */
export interface Notification {
  channel: string;
  payload: string;
}

/** One process alone on its database: nothing to tell anyone. */
export class LocalBus implements InvalidationBus {
  readonly shared = false;
  async publish(): Promise<void> {}
  async publishAll(): Promise<void> {}
  subscribe(): void {}
  async close(): Promise<void> {}
}

/** The envelope on the wire: the sender's id lets a process skip its own messages. */
export interface Envelope {
  berth: 'invalidate';
  from: string;
  event: Invalidation;
}

export function envelope(from: string, event: Invalidation): Envelope {
  return { berth: 'invalidate', from, event };
}

export function isEnvelope(value: unknown): value is Envelope {
  const v = value as Partial<Envelope> | null;
  return typeof v === 'object' && v !== null && v.berth === 'invalidate' && typeof v.from === 'string';
}
