import type { ProjectPolicy } from '../../auth/index.js';
import { BoundedLru } from '../../cache/bounded-lru.js';
import type { InvalidationBus } from '../../cluster/index.js';

/** Projects remembered at most; a forgotten one costs one query when next asked. */
const MAX_PROJECTS = 10_000;
/**
 * A backstop only, for a change whose announcement was lost (its writer died between commit and NOTIFY): every
 * change through the accounts service is announced.
 */
const MAX_STALE_MS = 30_000;

/**
 * Each project's access facts (public or not, members, push allowlist), as every /v2 request's access check
 * needs them, without a query per request: on PostgreSQL that query was the anonymous pull's whole cost.
 *
 * A change is forgotten here before the write's caller is answered (read-your-writes), and on the other
 * processes when the bus brings it (PostgreSQL LISTEN/NOTIFY between nodes: milliseconds after the commit).
 * A load is cached as a promise, so concurrent requests share one query; a change that lands while it runs
 * deletes the entry, so its answer serves only the requests that began before the change. While the bus may
 * be missing events (`deaf`), every request reads the database; after it lost events ('all'), everything is
 * read again.
 */
export class ProjectPolicies {
  readonly #known = new BoundedLru<string, Promise<ProjectPolicy | undefined>>({
    max: MAX_PROJECTS,
    ttl: MAX_STALE_MS,
  });

  constructor(
    private readonly load: (project: string) => Promise<ProjectPolicy | undefined>,
    private readonly bus: InvalidationBus,
    private readonly onError: (error: unknown) => void,
  ) {
    bus.subscribe((event) => {
      if (event.kind === 'project-changed') this.#known.delete(event.project);
      else if (event.kind === 'all') this.#known.clear();
    });
  }

  /** The project's policy; undefined when no such project exists. */
  get(project: string): Promise<ProjectPolicy | undefined> {
    if (this.bus.deaf) return this.load(project);
    const known = this.#known.get(project);
    if (known) return known;
    const loading = this.load(project);
    this.#known.set(project, loading);
    loading.catch(() => {
      if (this.#known.get(project) === loading) this.#known.delete(project);
    });
    return loading;
  }

  /** This process changed the project (its row or its members): forget it here, and tell the others. */
  changed(project: string): void {
    this.#known.delete(project);
    if (this.bus.shared) this.bus.publish({ kind: 'project-changed', project }).catch(this.onError);
  }
}
