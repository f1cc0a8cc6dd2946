import { expect } from 'vitest';
import { compareVersions, type VersionScheme } from '../../../../src/scanning/versions/index.js';

/** Asserts every version of the list is older than every later one, in both directions. */
export function expectAscending(scheme: VersionScheme, versions: string[]): void {
  const failures: string[] = [];
  for (let i = 0; i < versions.length; i++) {
    for (let j = i + 1; j < versions.length; j++) {
      const [a, b] = [versions[i] as string, versions[j] as string];
      if (compareVersions(scheme, a, b) !== -1) failures.push(`${a} < ${b}`);
      if (compareVersions(scheme, b, a) !== 1) failures.push(`${b} > ${a}`);
    }
  }
  expect(failures).toEqual([]);
}

/** Asserts each [a, b, expected] row. */
export function expectTable(scheme: VersionScheme, rows: [string, string, -1 | 0 | 1][]): void {
  const failures = rows
    .map(([a, b, expected]) => ({ a, b, expected, actual: compareVersions(scheme, a, b) }))
    .filter((row) => row.actual !== row.expected);
  expect(failures).toEqual([]);
}
