/** A parsed `WWW-Authenticate` challenge (RFC 9110 §11.6.1): `Bearer realm="…",service="…",scope="…"`. */
export interface Challenge {
  scheme: 'bearer' | 'basic' | string;
  params: Record<string, string>;
}

/** The first challenge of a `WWW-Authenticate` value; params may be quoted (with escapes) or bare tokens. */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const match = /^\s*([A-Za-z][\w-]*)\s*(.*)$/s.exec(header);
  if (!match) return undefined;
  const scheme = (match[1] as string).toLowerCase();
  const params: Record<string, string> = {};
  // One `\s*` before the value and one after it, never two around an empty value: `=\s*([^\s,"]*)\s*`
  // tried every split of a run of blanks (quadratic in a hostile upstream's header).
  const pattern = /\s*([A-Za-z][\w-]*)\s*=(?:\s*"((?:[^"\\]|\\.)*)"|\s*([^\s,"]+))?\s*(?:,|$)/gy;
  const rest = match[2] as string;
  for (let found = pattern.exec(rest); found && found[0] !== ''; found = pattern.exec(rest)) {
    const value = found[2] !== undefined ? found[2].replace(/\\(.)/g, '$1') : (found[3] ?? '');
    params[(found[1] as string).toLowerCase()] = value;
  }
  return { scheme, params };
}
