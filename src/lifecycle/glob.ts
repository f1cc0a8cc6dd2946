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

/** Compiles a pattern to a matcher. */
export function compileGlob(pattern: string): GlobMatcher {
  const regex = new RegExp(`^${globSource(pattern)}$`, 'u');
  return (name) => regex.test(name);
}

export function matchesGlob(pattern: string, name: string): boolean {
  return compileGlob(pattern)(name);
}

function globSource(pattern: string): string {
  let source = '';
  let i = 0;
  while (i < pattern.length) {
    const char = pattern[i] as string;
    if (char === '*' && pattern[i + 1] === '*') {
      const segmentStart = i === 0 || pattern[i - 1] === '/';
      const next = pattern[i + 2];
      if (segmentStart && next === '/') {
        // `**/`: zero or more whole segments, each with its slash.
        source += '(?:[^/]*/)*';
        i += 3;
        continue;
      }
      if (segmentStart && next === undefined && i > 0) {
        // `/**` at the end: the name itself (drop the slash already written) or anything below it.
        source = `${source.slice(0, -1)}(?:/.*)?`;
        i += 2;
        continue;
      }
      source += '.*';
      i += 2;
      // A third `*` and beyond add nothing.
      while (pattern[i] === '*') i++;
      continue;
    }
    if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    i++;
  }
  return source;
}
