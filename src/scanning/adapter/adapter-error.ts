/** Why talking to a scanner adapter failed; `message` says it in words, naming the adapter. */
export type AdapterErrorCode =
  /** Connection refused, DNS failure, reset: nothing answered. */
  | 'UNREACHABLE'
  /** One request took longer than its timeout. */
  | 'TIMEOUT'
  /** The caller's AbortSignal fired. */
  | 'ABORTED'
  /** /metadata answered, but not with what the spec describes, or without a capability Berth can use. */
  | 'BAD_METADATA'
  /** The adapter refused the scan or reported that it failed (its own message is kept). */
  | 'SCAN_FAILED'
  /** The adapter does not know the scan id (404 on the report). */
  | 'NOT_FOUND'
  /** The report was still not ready when the total wait ran out. */
  | 'REPORT_TIMEOUT'
  /** An answer that is not the spec's: wrong status, not JSON, too large, wrong shape. */
  | 'BAD_RESPONSE';

export class ScannerAdapterError extends Error {
  override name = 'ScannerAdapterError';

  constructor(
    readonly code: AdapterErrorCode,
    message: string,
    /** The HTTP status when the adapter answered. */
    readonly status?: number,
  ) {
    super(message);
  }
}
