/** What a folded object or array shows: `{3 keys}`, `[2 items]`; a scalar shows itself as JSON. */
export function summarize(value: unknown): string {
  if (Array.isArray(value)) return `[${value.length} ${value.length === 1 ? 'item' : 'items'}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).length;
    return `{${keys} ${keys === 1 ? 'key' : 'keys'}}`;
  }
  return JSON.stringify(value) ?? String(value);
}

/** The children of an object (by key, in stored order) or an array (by index); none for a scalar. */
export function entriesOf(value: unknown): [string, unknown][] {
  if (Array.isArray(value)) return value.map((item, index) => [String(index), item]);
  if (value !== null && typeof value === 'object') return Object.entries(value);
  return [];
}

function isBranch(value: unknown): boolean {
  return value !== null && typeof value === 'object' && entriesOf(value).length > 0;
}

function JsonNode({
  name,
  value,
  depth,
  openDepth,
}: {
  name: string;
  value: unknown;
  depth: number;
  openDepth: number;
}) {
  if (!isBranch(value)) {
    return (
      <li>
        <span class="json-key">{name}</span>:{' '}
        <span class={`json-${value === null ? 'null' : typeof value}`}>{summarize(value)}</span>
      </li>
    );
  }
  return (
    <li>
      <details open={depth < openDepth}>
        <summary>
          <span class="json-key">{name}</span> <span class="muted">{summarize(value)}</span>
        </summary>
        <JsonEntries value={value} depth={depth + 1} openDepth={openDepth} />
      </details>
    </li>
  );
}

function JsonEntries({ value, depth, openDepth }: { value: unknown; depth: number; openDepth: number }) {
  return (
    <ul class="json">
      {entriesOf(value).map(([name, child]) => (
        <JsonNode key={name} name={name} value={child} depth={depth} openDepth={openDepth} />
      ))}
    </ul>
  );
}

/**
 * JSON as a tree: objects and arrays fold (`<details>`, so the keyboard opens and closes them), the first
 * `openDepth` levels open. A scalar shows as itself.
 */
export function JsonTree({ value, openDepth = 2 }: { value: unknown; openDepth?: number }) {
  if (!isBranch(value)) return <code>{summarize(value)}</code>;
  return <JsonEntries value={value} depth={0} openDepth={openDepth} />;
}
