// Rust's Cargo.lock: one `[[package]]` table per crate (name, version, source, checksum, dependencies). Cargo
// writes it in a fixed shape, so this reads just that shape instead of taking a TOML parser for one file type.
//
// Crates with a `source` are reported: `registry+…`/`sparse+…` (crates.io or another registry) and `git+…`
// (third-party code at a recorded version). Crates without one are the project's own workspace members or path
// dependencies: local code that no advisory describes, like the root of an npm lockfile.
import type { FileAnalyzer, FoundPackage } from '../../analyzer.js';
import { problem } from './problem.js';

const MAX_LOCKFILE_BYTES = 16 * 1024 * 1024;

export const cargoLock: FileAnalyzer = {
  name: 'cargo-lock',
  match: (entry) =>
    entry.path.endsWith('/Cargo.lock') ? { read: 'content', maxBytes: MAX_LOCKFILE_BYTES } : false,
  async analyze(entry, { content }) {
    const { crates, notUnderstood } = readCargoLock(content?.toString('utf8') ?? '');
    const packages: FoundPackage[] = crates
      .filter((crate) => crate.source !== undefined)
      .map((crate) => ({ type: 'cargo', name: crate.name, version: crate.version, location: entry.path }));
    if (notUnderstood === 0) return { packages };
    const skipped = problem(
      entry,
      `${notUnderstood} lines or [[package]] tables not understood were skipped`,
    );
    return { packages, ...skipped };
  },
};

export interface LockedCrate {
  name: string;
  version: string;
  source?: string;
}

/** The `[[package]]` tables of a Cargo.lock, and how many lines or tables could not be read. */
export function readCargoLock(text: string): { crates: LockedCrate[]; notUnderstood: number } {
  const crates: LockedCrate[] = [];
  let notUnderstood = 0;
  let table: Map<string, string> | undefined; // the [[package]] being read; undefined in any other table
  let inArray = false; // inside a multi-line array (`dependencies = [`), whose items are not needed
  const finishTable = () => {
    if (!table) return;
    const name = table.get('name');
    const version = table.get('version');
    const source = table.get('source');
    if (name && version) crates.push({ name, version, ...(source ? { source } : {}) });
    else notUnderstood++;
    table = undefined;
  };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (inArray) {
      inArray = !line.endsWith(']');
      continue;
    }
    if (line.startsWith('[')) {
      finishTable();
      if (line === '[[package]]') table = new Map();
      continue;
    }
    // Keys are bare, except in lockfile format 1's [metadata]: `"checksum serde 1.0.100 (…)" = "…"`.
    // `s`: the value runs to the end of the line whatever it holds; without it a lone CR or U+2028 made
    // `\s*(.*)$` try every split of the blanks before it (quadratic in a line of a pushed layer).
    const assignment = /^([A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*")\s*=\s*(.*)$/s.exec(line);
    if (!assignment) {
      notUnderstood++;
      continue;
    }
    const [, key = '', value = ''] = assignment;
    if (value.startsWith('[')) {
      inArray = !value.endsWith(']');
      continue;
    }
    if (!table) continue; // `version = 4` at the top, [metadata] checksums of lockfile format 1
    const text = value.startsWith('"') ? basicString(value) : undefined;
    if (text === undefined) notUnderstood++;
    else table.set(key, text);
  }
  finishTable();
  return { crates, notUnderstood };
}

/** A TOML basic string (`"…"` with JSON-like escapes), optionally followed by a comment. */
function basicString(value: string): string | undefined {
  const quoted = /^"((?:[^"\\]|\\.)*)"\s*(?:#.*)?$/.exec(value);
  if (!quoted) return undefined;
  try {
    // TOML's \UXXXXXXXX is the one escape JSON lacks.
    const json = (quoted[1] ?? '').replace(/\\U([0-9A-Fa-f]{8})/g, (_, hex: string) =>
      JSON.stringify(String.fromCodePoint(Number.parseInt(hex, 16))).slice(1, -1),
    );
    return JSON.parse(`"${json}"`) as string;
  } catch {
    return undefined;
  }
}
