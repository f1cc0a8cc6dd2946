import { BoundedLru } from '../../cache/bounded-lru.js';
import type { InvalidationBus } from '../../cluster/index.js';

/** Users remembered at most; a forgotten one costs one query when next seen. */
const MAX_SUBJECTS = 10_000;
/** A backstop only: changes arrive through the bus, and generations only grow. */
const RECHECK_MS = 60_000;

/**
 * Each user's session generation, as this process knows it, for checking every access token without a query:
 * a token issued under an older generation than the user's (they signed out everywhere since) is void. A
 * generation is read from the database when a user is first seen, and raised by the bus (PostgreSQL
 * LISTEN/NOTIFY between nodes, the cluster IPC between workers) when another process signs the user out:
 * within milliseconds, on every process. Generations only grow, so whatever arrives late (a load that raced
 * with an event) merges by taking the larger; after the bus lost events ('all'), everything is read again.
 */
export class SessionGenerations {
  readonly #known = new BoundedLru<string, number>({ max: MAX_SUBJECTS, ttl: RECHECK_MS });

  constructor(
    private readonly load: (subject: string) => Promise<number>,
    private readonly bus: InvalidationBus,
    private readonly onError: (error: unknown) => void,
  ) {
    bus.subscribe((event) => {
      if (event.kind === 'sessions-revoked') this.#raise(event.subject, event.generation);
      else if (event.kind === 'all') this.#known.clear();
    });
  }

  /** The subject's generation; 0 for anonymous and robots (only users sign out everywhere). */
  async current(subject: string): Promise<number> {
    if (subject === '' || subject.startsWith('robot$')) return 0;
    const known = this.#known.get(subject);
    if (known !== undefined) return known;
    return this.#raise(subject, await this.load(subject));
  }

  /** This process raised the subject's generation: remember it, and tell the others. */
  raised(subject: string, generation: number): void {
    this.#raise(subject, generation);
    this.bus.publish({ kind: 'sessions-revoked', subject, generation }).catch(this.onError);
  }

  #raise(subject: string, generation: number): number {
    const highest = Math.max(generation, this.#known.get(subject) ?? 0);
    this.#known.set(subject, highest);
    return highest;
  }
}
