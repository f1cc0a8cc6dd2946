/**
 * Failures of the store itself, as opposed to a missing key or a bad request: the layers above answer them
 * with "try again later" or "storage full" instead of an internal error.
 */

/** The store did not answer, or failed on its side (refused connection, timeout, a 5xx): retry later. */
export class StorageUnavailableError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'StorageUnavailableError';
  }
}

/** The store has no room left for what was being written (ENOSPC, EDQUOT). */
export class StorageFullError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'StorageFullError';
  }
}

const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);

/** `error` as a StorageFullError when it is a filesystem's "no space left", else unchanged. */
export function noSpaceAsFull(error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === undefined || !NO_SPACE.has(code)) return error;
  return new StorageFullError(`storage full: ${(error as Error).message}`, { cause: error });
}
