/** Prints a line (adding the newline when `text` has none): what the CLI's verbs answer on standard output. */
export function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Left-aligned columns separated by two spaces, with a header row: what `list` verbs print. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

export function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

export function isoTime(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString();
}

/** What a `list` verb prints: the items as JSON with `--json`, else a table of `header` with a row per item. */
export function printList<T>(
  items: readonly T[],
  flags: { json?: boolean },
  header: readonly string[],
  row: (item: T) => readonly string[],
): void {
  process.stdout.write(
    flags.json ? `${JSON.stringify(items, null, 2)}\n` : formatTable(header, items.map(row)),
  );
}
