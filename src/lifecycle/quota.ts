import { projectOf } from '../auth/index.js';
import type { LifecycleStore, QuotaCharge } from '../metadata/index.js';
import { RegistryError } from '../registry/index.js';

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];

/** Bytes for people, in SI units: 512 B, 1.5 kB, 9.8 MB, 10 MB, 120 GB. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  if (unit === 0) return `${bytes} B`;
  const shown = Math.abs(value) < 100 ? value.toFixed(1) : value.toFixed(0);
  return `${shown.replace(/\.0$/, '')} ${UNITS[unit]}`;
}

/**
 * Whether a project using `usedBytes` of `limitBytes` (null: no limit) can take a blob of `bytes` more; with
 * the size unknown (undefined), whether any room is left at all.
 */
export function fits(usedBytes: number, limitBytes: number | null, bytes: number | undefined): boolean {
  if (limitBytes === null) return true;
  return bytes === undefined ? usedBytes < limitBytes : usedBytes + bytes <= limitBytes;
}

/** `project team is over its quota: 9.8 MB used of 10 MB; this blob needs 1.2 MB`, as DENIED. */
export function overQuotaError(
  project: string,
  usedBytes: number,
  limitBytes: number,
  bytes?: number,
): RegistryError {
  const needs = bytes === undefined ? '' : `; this blob needs ${formatBytes(bytes)}`;
  return new RegistryError('DENIED', {
    message: `project ${project} is over its quota: ${formatBytes(usedBytes)} used of ${formatBytes(limitBytes)}${needs}`,
    detail: { project, usedBytes, limitBytes, ...(bytes !== undefined && { neededBytes: bytes }) },
  });
}

/**
 * Storage quotas: the registry's admitUpload (early, before bytes are written) and admitLink (authoritative,
 * inside the link transaction) hooks. A blob the project holds already never counts twice, so it never fails.
 */
export class Quotas {
  constructor(private readonly store: LifecycleStore) {}

  readonly admitUpload = async (
    repository: string,
    bytes: number | undefined,
    digest?: string,
  ): Promise<void> => {
    const project = projectOf(repository);
    const limitBytes = await this.store.limit(project);
    if (limitBytes === null) return;
    const usedBytes = await this.store.used(project);
    if (fits(usedBytes, limitBytes, bytes)) return;
    if (digest !== undefined && (await this.store.holds(project, digest))) return;
    throw overQuotaError(project, usedBytes, limitBytes, bytes);
  };

  readonly admitLink = (charge: QuotaCharge): void => {
    if (charge.limitBytes === null || fits(charge.usedBytes, charge.limitBytes, charge.size)) return;
    throw overQuotaError(charge.project, charge.usedBytes, charge.limitBytes, charge.size);
  };
}
