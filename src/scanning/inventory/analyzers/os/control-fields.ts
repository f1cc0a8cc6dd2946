/**
 * Paragraphs of `Field: value` lines separated by blank lines, with continuation lines that start with a space
 * or tab (deb822, as dpkg writes its status database). Field names are kept as written.
 */
export function* controlParagraphs(text: string): Generator<Map<string, string>> {
  let fields = new Map<string, string>();
  let last: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (fields.size > 0) yield fields;
      fields = new Map();
      last = undefined;
    } else if ((line[0] === ' ' || line[0] === '\t') && last !== undefined) {
      fields.set(last, `${fields.get(last)}\n${line.trim()}`);
    } else {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      last = line.slice(0, colon);
      fields.set(last, line.slice(colon + 1).trim());
    }
  }
  if (fields.size > 0) yield fields;
}
