import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

/** A connection or a transaction: row helpers run in either. */
export type Db = Kysely<Database> | Transaction<Database>;

/** A grant stored as JSON in robots.permissions and access_tokens.permissions. */
export interface PermissionRow {
  project: string;
  actions: readonly string[];
}

export const flag = (value: boolean): number => (value ? 1 : 0);

/** Reads a JSON list of strings; anything else (a corrupted row) reads as empty: fail closed. */
export function parseStringList(text: string | null): string[] | null {
  if (text === null) return null;
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
  } catch {
    return [];
  }
}

/** Reads JSON [{project, actions}]; malformed entries are dropped (fail closed). */
export function parsePermissions(text: string): PermissionRow[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(value)) return [];
  return value.flatMap((item: unknown) => {
    if (typeof item !== 'object' || item === null) return [];
    const { project, actions } = item as Record<string, unknown>;
    if (typeof project !== 'string' || !Array.isArray(actions)) return [];
    return [{ project, actions: actions.filter((a): a is string => typeof a === 'string') }];
  });
}

export function formatPermissions(permissions: readonly PermissionRow[]): string {
  return JSON.stringify(permissions.map(({ project, actions }) => ({ project, actions })));
}
