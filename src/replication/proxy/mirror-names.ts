import type { Kysely } from 'kysely';
import { DEFAULT_PROJECT, projectOf } from '../../auth/index.js';
import { BoundedLru } from '../../cache/bounded-lru.js';
import type { Database } from '../../metadata/index.js';
import { isValidRepositoryName } from '../../registry/index.js';
import { isDockerHub } from './upstream-name.js';

/** How a plain name fell to a proxy project: Docker's registry-mirrors (`mirror`), or containerd's `ns=` (`ns`). */
export interface MirroredName {
  /** The repository that serves it: `<proxy project>/<name>`. */
  name: string;
  via: 'mirror' | 'ns';
  /** The `ns=` the client sent, when `via` is `ns` (the token request must carry it too). */
  ns?: string;
}

export interface MirrorNamesOptions {
  db: Kysely<Database>;
  /** proxy.mirrorProject: the project plain names fall to; '' for none. */
  mirrorProject: string;
  /** Every proxy project and its upstream URL. */
  proxyProjects(): Promise<{ project: string; url: string }[]>;
  /** Whether a repository exists here (anything was pushed or cached into it). */
  repositoryExists(name: string): Promise<boolean>;
}

const HOST = /^[a-z0-9]([a-z0-9.-]{0,252})(:[0-9]{1,5})?$/;
/** Facts about projects and repositories are reused this long: a new project stops falling to the mirror after it. */
const FACT_TTL_MS = 5_000;

/**
 * Names daemons send to a mirror, and the proxy project that serves them. Docker's `registry-mirrors` send
 * Docker Hub's own path (`/v2/library/alpine/manifests/3.20`) and containerd's mirrors add `?ns=docker.io`:
 * neither has room for a project. The rule (docs/proxy-cache.md, "Daemons using Berth as a mirror"):
 *
 * - with `ns=<host>`, a name falls to the proxy project bound to that host (proxy.mirrorProject if it is, else
 *   the first by name), unless the name is already in that project (containerd's `override_path` form);
 * - without, a name falls to proxy.mirrorProject when its first segment is no project here, or when it is in
 *   `library` (Docker Hub's namespace of official images, Berth's default project) and no such repository
 *   exists here. A name in any other existing project is never mirrored: a typo in a private project's name must
 *   not fetch whatever a stranger published under that name upstream.
 */
export class MirrorNames {
  private readonly projects = new BoundedLru<string, { exists: boolean }>({ max: 10_000, ttl: FACT_TTL_MS });
  private readonly repositories = new BoundedLru<string, { exists: boolean }>({
    max: 10_000,
    ttl: FACT_TTL_MS,
  });
  private proxies:
    | { at: number; list: Promise<{ project: string; host: string; hub: boolean }[]> }
    | undefined;

  constructor(private readonly options: MirrorNamesOptions) {}

  /** Whether any name can fall to a proxy project without `ns=` (proxy.mirrorProject is set). */
  get enabled(): boolean {
    return this.options.mirrorProject !== '';
  }

  /** The repository that serves `name` for a pull, or undefined when it is served as it is. */
  async resolve(name: string, ns: string | undefined): Promise<MirroredName | undefined> {
    if (ns !== undefined && ns !== '') return this.byNamespace(name, ns.toLowerCase());
    const mirror = this.options.mirrorProject;
    if (mirror === '') return undefined;
    const project = projectOf(name);
    if (project === mirror || !(await this.projectExists(mirror))) return undefined;
    if (await this.projectExists(project)) {
      if (project !== DEFAULT_PROJECT || (await this.repositoryExists(name))) return undefined;
    }
    return mapped(mirror, name, 'mirror');
  }

  /** A repository was pushed here: it is no longer mirrored (on this node at once, elsewhere after the TTL). */
  pushed(repository: string): void {
    this.repositories.delete(repository);
  }

  private async byNamespace(name: string, ns: string): Promise<MirroredName | undefined> {
    // A host[:port], as containerd sends it; anything else names no upstream.
    if (!HOST.test(ns)) return undefined;
    const hub = isDockerHub(new URL(`https://${ns}`));
    const candidates = (await this.proxyList()).filter((p) => (p.hub ? hub : p.host === ns));
    if (candidates.length === 0) return undefined;
    const chosen =
      candidates.find((p) => p.project === this.options.mirrorProject) ??
      (candidates[0] as { project: string });
    if (projectOf(name) === chosen.project && name.includes('/')) return undefined;
    return mapped(chosen.project, name, 'ns', ns);
  }

  private proxyList() {
    const now = Date.now();
    if (!this.proxies || now - this.proxies.at > FACT_TTL_MS) {
      const list = this.options.proxyProjects().then((all) =>
        all.map(({ project, url }) => {
          const upstream = new URL(url);
          return { project, host: upstream.host.toLowerCase(), hub: isDockerHub(upstream) };
        }),
      );
      list.catch(() => {
        this.proxies = undefined;
      });
      this.proxies = { at: now, list };
    }
    return this.proxies.list;
  }

  private async projectExists(name: string): Promise<boolean> {
    const cached = this.projects.get(name);
    if (cached) return cached.exists;
    const row = await this.options.db
      .selectFrom('projects')
      .select('id')
      .where('name', '=', name)
      .executeTakeFirst();
    this.projects.set(name, { exists: row !== undefined });
    return row !== undefined;
  }

  private async repositoryExists(name: string): Promise<boolean> {
    const cached = this.repositories.get(name);
    if (cached) return cached.exists;
    const exists = await this.options.repositoryExists(name);
    this.repositories.set(name, { exists });
    return exists;
  }
}

function mapped(project: string, name: string, via: 'mirror' | 'ns', ns?: string): MirroredName | undefined {
  const served = `${project}/${name}`;
  if (!isValidRepositoryName(served)) return undefined;
  return ns === undefined ? { name: served, via } : { name: served, via, ns };
}
