import { createHash } from 'node:crypto';

/**
 * Put first in a statement's SQL (PostgreSQL): it runs as a named prepared statement, parsed and planned once
 * per connection instead of on every execution. For hot statements whose text is one of a few fixed variants
 * (a tag move's: its parse and plan cost PostgreSQL three times its execution). Not for texts that vary with
 * their input (an `in (…)` list): each would stay prepared on every connection for good.
 */
export const PREPARED = '/* berth:prepared */';

/** Statement names by SQL text; the marked texts are few. */
const names = new Map<string, string>();

/**
 * node-postgres `query(text, values)` arguments (as Kysely passes them) for a marked text become a named
 * query: pg then sends the Parse only the first time on each connection. Anything else is left as it is.
 */
export function preparedQuery(args: unknown[]): unknown[] {
  const [text, values] = args;
  if (typeof text !== 'string' || !text.startsWith(PREPARED) || args.length !== 2) return args;
  let name = names.get(text);
  if (name === undefined) {
    name = `berth_${createHash('sha256').update(text).digest('hex').slice(0, 32)}`;
    if (names.size < 1000) names.set(text, name);
  }
  return [{ name, text, values }];
}
