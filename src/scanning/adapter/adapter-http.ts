// One request to a scanner adapter: a timeout on each, the caller's AbortSignal honoured, redirects not
// followed (the report's "not ready" is a 302), bodies read up to a cap, failures turned into ScannerAdapterError.
import { ScannerAdapterError } from './adapter-error.js';

export interface AdapterResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

export interface AdapterRequest {
  method: 'GET' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  maxBodyBytes: number;
  signal?: AbortSignal;
  /** For messages: `scanner adapter http://…`. */
  what: string;
}

export async function adapterRequest(request: AdapterRequest): Promise<AdapterResponse> {
  request.signal?.throwIfAborted();
  const timeout = AbortSignal.timeout(request.timeoutMs);
  const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
  const failed = (error: unknown): ScannerAdapterError => {
    if (request.signal?.aborted) return new ScannerAdapterError('ABORTED', `${request.what}: aborted`);
    if (timeout.aborted) {
      return new ScannerAdapterError('TIMEOUT', `${request.what}: no answer within ${request.timeoutMs} ms`);
    }
    if (error instanceof ScannerAdapterError) return error;
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (error as Error).message;
    return new ScannerAdapterError('UNREACHABLE', `${request.what}: unreachable (${reason})`);
  };
  try {
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      ...(request.body === undefined ? {} : { body: request.body }),
      redirect: 'manual',
      signal,
    });
    return { status: response.status, headers: response.headers, body: await readCapped(response, request) };
  } catch (error) {
    throw failed(error);
  }
}

/** The body, refused once it passes the cap (Content-Length first, then while streaming). */
async function readCapped(response: Response, request: AdapterRequest): Promise<Buffer> {
  const tooLarge = () =>
    new ScannerAdapterError(
      'BAD_RESPONSE',
      `${request.what}: answer larger than ${request.maxBodyBytes} bytes`,
      response.status,
    );
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > request.maxBodyBytes) {
    await response.body?.cancel();
    throw tooLarge();
  }
  if (!response.body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > request.maxBodyBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** The JSON of a body, or a BAD_RESPONSE naming what was expected. */
export function parseJson(response: AdapterResponse, what: string): unknown {
  try {
    return JSON.parse(response.body.toString('utf8'));
  } catch {
    throw new ScannerAdapterError('BAD_RESPONSE', `${what}: answer is not JSON`, response.status);
  }
}

/** The adapter's own words from an error body (`{"error":{"message":…}}`), or the status. */
export function adapterMessage(response: AdapterResponse): string {
  try {
    const message = (JSON.parse(response.body.toString('utf8')) as { error?: { message?: unknown } }).error
      ?.message;
    if (typeof message === 'string' && message.trim() !== '')
      return `${message.slice(0, 1000)} (HTTP ${response.status})`;
  } catch {
    // not the spec's error body
  }
  return `HTTP ${response.status}`;
}
