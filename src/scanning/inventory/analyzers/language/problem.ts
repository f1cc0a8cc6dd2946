import type { FileEntry, FileFindings } from '../../analyzer.js';

/** Findings that say why `entry` could not be read: the inventory is then incomplete, and the walk goes on. */
export function problem(entry: FileEntry, why: string): FileFindings {
  return { problems: [`${entry.path}: ${why}`] };
}

/** An error's message, for a problem: whatever a parser threw. */
export function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
