import { projectOf } from '../auth/index.js';
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

/** Tag immutability: the registry's tagProtection hook, from the rules of the repository's project. */
export class TagImmutability {
  constructor(private readonly store: LifecycleStore) {}

  async protection(repository: string): Promise<TagProtection | undefined> {
    const applying = rulesFor(await this.store.rules(projectOf(repository)), repository);
    if (applying.length === 0) return undefined;
    return (tag, manifest) => {
      const found = applying.find((compiled) => compiled.tag(tag));
      return found && immutableTagError(found.rule, repository, tag, manifest);
    };
  }
}
