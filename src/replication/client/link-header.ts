/** The `rel="next"` target of a Link header (RFC 8288), as tag lists and referrers paginate; resolved on `base`. */
export function nextLink(header: string | null, base: URL): URL | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (match && /(?:^|;)\s*rel\s*=\s*"?next"?\s*(?:;|$)/i.test(match[2] as string)) {
      return new URL(match[1] as string, base);
    }
  }
  return undefined;
}
