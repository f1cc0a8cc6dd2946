/** Where the console goes after a login when no (usable) `next` was given. */
export const DEFAULT_NEXT = '/';
const MAX_NEXT = 2048;

/**
 * A `next` that stays on this origin: an absolute path, not `//host` or `/\host` (which browsers read as
 * another host), no scheme, no control characters. Anything else becomes DEFAULT_NEXT, so a login link cannot
 * be made into an open redirect.
 */
export function sameOriginPath(next: string | undefined): string {
  if (next === undefined || next === '' || next.length > MAX_NEXT) return DEFAULT_NEXT;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (!next.startsWith('/') || /[\\\u0000-\u001f\u007f]/.test(next) || next.startsWith('//')) {
    return DEFAULT_NEXT;
  }
  // The URL parser is what a browser applies: the path must resolve to the same origin.
  const base = 'http://berth.invalid';
  try {
    return new URL(next, base).origin === base ? next : DEFAULT_NEXT;
  } catch {
    return DEFAULT_NEXT;
  }
}
