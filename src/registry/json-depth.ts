/** Objects and arrays nested deeper than this are refused before parsing (manifests and API bodies). */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether JSON text nests objects or arrays deeper than `limit`: one pass over the text, brackets inside
 * strings ignored. `JSON.parse` copes with deep nesting, but whatever later walks the value recursively
 * (`JSON.stringify`, a schema validator) can run out of stack; legitimate manifests and API bodies nest a few
 * levels at most.
 */
export function nestsDeeperThan(text: string, limit = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}
