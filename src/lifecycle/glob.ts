/**
 * Globs for repository and tag patterns, as Harbor's rules write them:
 *
 * - `?` one character, `*` any run of characters, neither crossing a `/`;
 * - `**` as a whole path segment any number of segments, none included: `team/**` matches `team`, `team/app`
 *   and `team/a/b`; `**\/app` matches `app` and `x/y/app`; `a/**\/b` matches `a/b` and `a/x/y/b`;
 * - `**` inside a segment (`v1**`) any run of characters, `/` included;
 * - every other character stands for itself (no classes, no braces, no escapes: names never need them).
 *
 * A pattern matches a whole name, never a part of it.
 */
export type GlobMatcher = (name: string) => boolean;

type Token =
  | { kind: 'char'; char: string }
  /** `?`: one character but `/`. */
  | { kind: 'one' }
  /** `*`: any run of characters but `/`. */
  | { kind: 'star' }
  /** `**` inside a segment: any run of characters. */
  | { kind: 'any' }
  /** `**\/` at a segment start: zero or more whole segments, each with its slash. */
  | { kind: 'segments' }
  /** `/**` at the end: nothing, or a slash and anything. */
  | { kind: 'tail' };

/**
 * Compiles a pattern to a matcher. Matching simulates the pattern as an automaton over a set of states, so it
 * takes time proportional to name × pattern length whatever they hold. (It was a RegExp: `*a*a*a*a*b` against
 * a name of 100 `a`s backtracked for about a second, and each more `*a` multiplied that by ~100 — a rule any
 * project administrator may write, checked on every push.)
 */
export function compileGlob(pattern: string): GlobMatcher {
  const tokens = tokenize(pattern);
  return (name) => run(tokens, name);
}

export function matchesGlob(pattern: string, name: string): boolean {
  return compileGlob(pattern)(name);
}

function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  const chars = Array.from(pattern);
  let i = 0;
  while (i < chars.length) {
    const char = chars[i] as string;
    if (char === '*' && chars[i + 1] === '*') {
      const segmentStart = i === 0 || chars[i - 1] === '/';
      const next = chars[i + 2];
      if (segmentStart && next === '/') {
        tokens.push({ kind: 'segments' });
        i += 3;
        continue;
      }
      if (segmentStart && next === undefined && i > 0) {
        // `/**` at the end: the name itself (the slash already taken back) or anything below it.
        tokens.pop();
        tokens.push({ kind: 'tail' });
        i += 2;
        continue;
      }
      tokens.push({ kind: 'any' });
      i += 2;
      // A third `*` and beyond add nothing.
      while (chars[i] === '*') i++;
      continue;
    }
    if (char === '*') tokens.push({ kind: 'star' });
    else if (char === '?') tokens.push({ kind: 'one' });
    else tokens.push({ kind: 'char', char });
    i++;
  }
  return tokens;
}

/** A state: before token `i` (sub 0), or inside it (sub 1: within a segment of `segments`, past the slash of `tail`). */
const state = (i: number, sub: 0 | 1) => i * 2 + sub;

function run(tokens: readonly Token[], name: string): boolean {
  const closure = (states: Set<number>): Set<number> => {
    const stack = [...states];
    while (stack.length > 0) {
      const s = stack.pop() as number;
      const i = s >> 1;
      const token = tokens[i];
      if (!token) continue;
      // Every kind but char and one may match nothing; a tail past its slash may end anywhere.
      const skips = (s & 1) === 0 ? token.kind !== 'char' && token.kind !== 'one' : token.kind === 'tail';
      const next = state(i + 1, 0);
      if (skips && !states.has(next)) {
        states.add(next);
        stack.push(next);
      }
    }
    return states;
  };
  let current = closure(new Set([state(0, 0)]));
  for (const char of name) {
    const next = new Set<number>();
    for (const s of current) {
      const i = s >> 1;
      const token = tokens[i];
      if (!token) continue;
      const slash = char === '/';
      if ((s & 1) === 1) {
        if (token.kind === 'segments') next.add(state(i, slash ? 0 : 1));
        else next.add(s); // tail: anything
        continue;
      }
      switch (token.kind) {
        case 'char':
          if (char === token.char) next.add(state(i + 1, 0));
          break;
        case 'one':
          if (!slash) next.add(state(i + 1, 0));
          break;
        case 'star':
          if (!slash) next.add(s);
          break;
        case 'any':
          next.add(s);
          break;
        case 'segments':
          next.add(state(i, slash ? 0 : 1));
          break;
        case 'tail':
          if (slash) next.add(state(i, 1));
          break;
      }
    }
    if (next.size === 0) return false;
    current = closure(next);
  }
  return current.has(state(tokens.length, 0));
}
