/**
 * Destination namespace rewriting. A rule is `from` → `to`: either two whole names, or two prefixes ending in
 * `**` (`team/**` → `branch-a/team/**`: what is below `team/` goes below `branch-a/team/`; `**` → `branch-a/**`
 * puts a fixed prefix before every name). A name the rule does not cover keeps its name.
 */
export interface Rewrite {
  from: string;
  to: string;
}

/** Why a rule cannot work, or undefined. */
export function rewriteProblem(rule: Rewrite): string | undefined {
  const open = (pattern: string) => pattern.endsWith('**');
  for (const [side, pattern] of [
    ['from', rule.from],
    ['to', rule.to],
  ] as const) {
    const fixed = open(pattern) ? pattern.slice(0, -2) : pattern;
    if (/[*?]/.test(fixed)) return `rewrite.${side}: only a trailing ** may be a wildcard`;
    if (open(pattern) && fixed !== '' && !fixed.endsWith('/')) {
      return `rewrite.${side}: ** must follow a / (team/**) or stand alone (**)`;
    }
  }
  if (open(rule.from) !== open(rule.to)) {
    return 'rewrite: from and to must both end in ** (prefixes) or neither (whole names)';
  }
  return undefined;
}

/** The destination name of `name` under the rule (null: none, the same name). */
export function rewriteName(rule: Rewrite | null, name: string): string {
  if (!rule) return name;
  if (!rule.from.endsWith('**')) return name === rule.from ? rule.to : name;
  const from = rule.from.slice(0, -2);
  const to = rule.to.slice(0, -2);
  // `team/**` covers `team` itself too, as the glob does.
  if (from !== '' && name === from.slice(0, -1)) return to === '' ? name : to.slice(0, -1);
  return name.startsWith(from) ? to + name.slice(from.length) : name;
}
