import { projectOf } from '../auth/index.js';
import { BoundedLru } from '../cache/bounded-lru.js';
import { type InvalidationBus, LocalBus } from '../cluster/index.js';
import type { ImmutabilityRuleRow, LifecycleStore } from '../metadata/index.js';
import { RegistryError, type TagProtection } from '../registry/index.js';
import { compileGlob, type GlobMatcher } from './glob.js';

/** Repository patterns: the repository name grammar's characters plus the glob's `*` and `?`. */
export const REPOSITORY_PATTERN = /^[a-z0-9._\-/*?]{1,255}$/;
/** Tag patterns: the tag grammar's characters plus `*` and `?`. */
export const TAG_PATTERN = /^[A-Za-z0-9._\-*?]{1,128}$/;

export type ImmutabilityRule = ImmutabilityRuleRow;

interface CompiledRule {
  rule: ImmutabilityRule;
  repository: GlobMatcher;
  tag: GlobMatcher;
}

/** The rules that apply to the repository, with their tag matchers, in rule order. */
export function rulesFor(rules: readonly ImmutabilityRule[], repository: string): CompiledRule[] {
  const applying: CompiledRule[] = [];
  for (const rule of rules) {
    const matcher = compileGlob(rule.repositoryPattern);
    if (matcher(repository)) applying.push({ rule, repository: matcher, tag: compileGlob(rule.tagPattern) });
  }
  return applying;
}

/** The first rule (oldest) that makes the tag of the repository immutable, if any. */
export function protectingRule(
  rules: readonly ImmutabilityRule[],
  repository: string,
  tag: string,
): ImmutabilityRule | undefined {
  return rulesFor(rules, repository).find((compiled) => compiled.tag(tag))?.rule;
}

/** `tag v1.0 of team/app is immutable (rule 3: repository "team/**", tag "v*")`, as DENIED. */
export function immutableTagError(
  rule: ImmutabilityRule,
  repository: string,
  tag: string,
  manifest?: string,
): RegistryError {
  const why = `tag ${tag} of ${repository} is immutable (rule ${rule.id}: repository "${rule.repositoryPattern}", tag "${rule.tagPattern}")`;
  return new RegistryError('DENIED', {
    message: manifest === undefined ? why : `manifest ${manifest} cannot be deleted: ${why}`,
    detail: {
      repository,
      tag,
      ...(manifest !== undefined && { manifest }),
      rule: { id: rule.id, repositoryPattern: rule.repositoryPattern, tagPattern: rule.tagPattern },
    },
  });
}

/** Projects whose rules are remembered at most; a forgotten one costs one query when next asked. */
const MAX_PROJECTS = 10_000;
/** A backstop only, for a change whose announcement was lost: every rule change through Berth is announced. */
const MAX_STALE_MS = 30_000;

/**
 * Tag immutability: the registry's tagProtection hook, from the rules of the repository's project.
 *
 * Every tag push asks for the project's rules, so they are remembered (on PostgreSQL the query was one of a
 * tag move's round trips). A rule added or removed here is forgotten before the caller is answered, and on the
 * other processes sharing the database when the bus brings the announcement (milliseconds after the commit);
 * a change that lands while a load runs drops that load, so its answer serves only the pushes that began
 * before. While the bus may be missing events (`deaf`) every push reads the rules.
 */
export class TagImmutability {
  readonly #rules = new BoundedLru<string, Promise<readonly ImmutabilityRule[]>>({
    max: MAX_PROJECTS,
    ttl: MAX_STALE_MS,
  });

  constructor(
    private readonly store: LifecycleStore,
    private readonly bus: InvalidationBus = new LocalBus(),
    private readonly onError: (error: unknown) => void = () => {},
  ) {
    bus.subscribe((event) => {
      if (event.kind === 'immutability-changed' || event.kind === 'project-changed') {
        this.#rules.delete(event.project);
      } else if (event.kind === 'all') this.#rules.clear();
    });
  }

  /** The project's rules, oldest first. */
  rules(project: string): Promise<readonly ImmutabilityRule[]> {
    if (this.bus.deaf) return this.store.rules(project);
    const known = this.#rules.get(project);
    if (known) return known;
    const loading = this.store.rules(project);
    this.#rules.set(project, loading);
    loading.catch(() => {
      if (this.#rules.get(project) === loading) this.#rules.delete(project);
    });
    return loading;
  }

  /** This process changed the project's rules: forget them here, and tell the other processes. */
  async changed(project: string): Promise<void> {
    this.#rules.delete(project);
    if (this.bus.shared) {
      await this.bus.publish({ kind: 'immutability-changed', project }).catch(this.onError);
    }
  }

  async protection(repository: string): Promise<TagProtection | undefined> {
    const applying = rulesFor(await this.rules(projectOf(repository)), repository);
    if (applying.length === 0) return undefined;
    return (tag, manifest) => {
      const found = applying.find((compiled) => compiled.tag(tag));
      return found && immutableTagError(found.rule, repository, tag, manifest);
    };
  }
}
