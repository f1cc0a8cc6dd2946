import type { components, paths } from './schema';

/** Named schemas of the API, as the console uses them. */
export type Schemas = components['schemas'];

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
type JsonOf<R> = R extends { content: { 'application/json': infer J } } ? J : undefined;
type Success<O> = O extends { responses: infer R }
  ? 200 extends keyof R
    ? JsonOf<R[200]>
    : 201 extends keyof R
      ? JsonOf<R[201]>
      : 202 extends keyof R
        ? JsonOf<R[202]>
        : undefined
  : never;
type PathParams<O> = O extends { parameters: { path: infer A } } ? A : never;
type QueryParams<O> = O extends { parameters: { query?: infer Q } } ? Q : never;
type Body<O> = O extends { requestBody: { content: { 'application/json': infer B } } } ? B : never;

export interface CallOptions<O> {
  path?: PathParams<O>;
  query?: QueryParams<O>;
  body?: Body<O>;
}

/** An answer of the API other than success: its status and the `{errors:[…]}` message, in words. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** The session's CSRF token: in memory only (never local storage), sent with every state-changing call. */
let csrfToken = '';
let onUnauthorized: () => void = () => {};

export function setCsrfToken(token: string): void {
  csrfToken = token;
}

export function whenUnauthorized(handler: () => void): void {
  onUnauthorized = handler;
}

function url(template: string, path: Record<string, unknown> | undefined, query: object | undefined): string {
  const filled = template.replace(/\{(\w+)\}/g, (_, name: string) =>
    encodeURIComponent(String(path?.[name] ?? '')),
  );
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `${filled}?${text}` : filled;
}

/** Calls /api/v1 with types from the OpenAPI document: the path, parameters, body and answer are checked. */
export async function call<P extends keyof paths, M extends Method & keyof paths[P]>(
  method: M,
  path: P,
  options: CallOptions<Operation<P, M>> = {},
): Promise<Success<Operation<P, M>>> {
  const headers: Record<string, string> = { accept: 'application/json', 'x-berth-console': '1' };
  if (method !== 'get') headers['x-berth-csrf'] = csrfToken;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(
    url(path as string, options.path as Record<string, unknown>, options.query as object),
    {
      method: method.toUpperCase(),
      headers,
      credentials: 'same-origin',
      ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
    },
  );
  if (!response.ok) throw await failureOf(response, path as string);
  if (response.status === 204) return undefined as Success<Operation<P, M>>;
  return (await response.json()) as Success<Operation<P, M>>;
}

/** The API's refusal as an ApiError, in words; a 401 outside the session check signs the console out. */
async function failureOf(response: Response, path: string): Promise<ApiError> {
  let message = `${response.status} ${response.statusText}`;
  let code = 'UNKNOWN';
  try {
    const body = (await response.json()) as { errors?: { code: string; message: string }[] };
    const first = body.errors?.[0];
    if (first) {
      message = first.message;
      code = first.code;
    }
  } catch {
    // not JSON: the status line says it
  }
  if (response.status === 401 && path !== '/api/v1/session') onUnauthorized();
  return new ApiError(response.status, message, code);
}

/**
 * Sends bytes that are not JSON (a vulnerability database as a zip or NDJSON) with the CSRF token; the answer is
 * JSON as with `call`.
 */
export async function upload<T>(
  method: 'put' | 'post',
  path: keyof paths,
  body: Blob,
  contentType: string,
): Promise<T> {
  const response = await fetch(path, {
    method: method.toUpperCase(),
    headers: {
      accept: 'application/json',
      'content-type': contentType,
      'x-berth-console': '1',
      'x-berth-csrf': csrfToken,
    },
    credentials: 'same-origin',
    body,
  });
  if (!response.ok) throw await failureOf(response, path);
  return (await response.json()) as T;
}
