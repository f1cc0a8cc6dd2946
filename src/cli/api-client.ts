import { basicAuthorization } from '../auth/index.js';

/** The command line was wrong: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The server refused or could not be reached: exit code 1. The message is the API's own. */
export class ApiCallError extends Error {
  override name = 'ApiCallError';
  constructor(
    message: string,
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

export interface Connection {
  /** http(s)://host:port of a running Berth. */
  server: string;
  user?: string | undefined;
  password?: string | undefined;
}

export type Query = Record<string, string | number | undefined>;

interface ErrorBody {
  errors?: { code?: string; message?: string }[];
}

/** A small client of /api/v1 with Basic credentials, for the `berth` admin verbs. */
export class ApiClient {
  readonly #base: URL;
  readonly #authorization: string | undefined;

  constructor(connection: Connection) {
    let base: URL;
    try {
      base = new URL(connection.server);
    } catch {
      throw new UsageError(`--server: not a URL: ${connection.server}`);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new UsageError(`--server: must be an http:// or https:// URL: ${connection.server}`);
    }
    this.#base = base;
    if (connection.user !== undefined && connection.user !== '') {
      if (connection.user.includes(':')) throw new UsageError('--user: a user name cannot contain ":"');
      this.#authorization = basicAuthorization(connection.user, connection.password ?? '');
    }
  }

  url(path: string, query: Query = {}): URL {
    const url = new URL(`api/v1${path}`, this.#base.href.endsWith('/') ? this.#base : `${this.#base.href}/`);
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url;
  }

  async request<T>(
    method: string,
    path: string,
    options: { query?: Query; body?: unknown } = {},
  ): Promise<T> {
    const response = await this.#fetch(method, this.url(path, options.query), options.body);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  /** Sends a body as it is (a stream of OSV records, say), not as JSON; the answer is JSON. */
  async upload<T>(
    method: string,
    path: string,
    body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
    contentType: string,
  ): Promise<T> {
    const response = await this.#fetch(method, this.url(path), new RawBody(body, contentType));
    return (await response.json()) as T;
  }

  /** The answer's body as text (an SBOM document), for GETs of other media types than JSON. */
  async text(path: string, query: Query = {}): Promise<string> {
    const response = await this.#fetch('GET', this.url(path, query), undefined, '*/*');
    return response.text();
  }

  /** Every item of a list, following `next` page by page. */
  async *items<T>(path: string, query: Query = {}, cursorParam = 'cursor'): AsyncGenerator<T> {
    let cursor: string | undefined;
    do {
      const page = await this.request<{ items: T[]; next?: string }>('GET', path, {
        query: { ...query, [cursorParam]: cursor },
      });
      yield* page.items;
      cursor = page.next;
    } while (cursor !== undefined);
  }

  /** The first `limit` items of a list, newest first where it is, asking for pages of at most 1000 (MAX_LIMIT). */
  async firstItems<T>(path: string, limit: number, query: Query = {}, cursorParam = 'cursor'): Promise<T[]> {
    const found: T[] = [];
    for await (const item of this.items<T>(path, { ...query, limit: Math.min(limit, 1000) }, cursorParam)) {
      found.push(item);
      if (found.length >= limit) break;
    }
    return found;
  }

  async #fetch(method: string, url: URL, body: unknown, accept = 'application/json'): Promise<Response> {
    const headers: Record<string, string> = { accept, 'user-agent': 'berth-cli' };
    if (this.#authorization) headers.authorization = this.#authorization;
    const raw = body instanceof RawBody ? body : undefined;
    if (raw) headers['content-type'] = raw.contentType;
    else if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        // A streamed body needs half duplex (undici); a JSON one is sent whole.
        ...(raw
          ? { body: raw.body as unknown as ReadableStream, duplex: 'half' }
          : body !== undefined && { body: JSON.stringify(body) }),
      } as RequestInit);
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (error as Error).message;
      throw new ApiCallError(`cannot reach the Berth server at ${this.#base.origin}: ${why}`);
    }
    if (response.ok) return response;
    throw await this.#failure(response);
  }

  async #failure(response: Response): Promise<ApiCallError> {
    const text = await response.text();
    let first: { code?: string; message?: string } | undefined;
    try {
      first = (JSON.parse(text) as ErrorBody).errors?.[0];
    } catch {
      // Not ours (a proxy's error page): the status line will do.
    }
    let message = first?.message ?? `HTTP ${response.status} ${response.statusText}`.trim();
    if (response.status === 401 && this.#authorization === undefined) {
      message += ' (log in with --user and --password, or BERTH_USER and BERTH_PASSWORD)';
    }
    return new ApiCallError(message, response.status, first?.code);
  }
}

/** A body to send as it is, with its media type. */
class RawBody {
  constructor(
    readonly body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
    readonly contentType: string,
  ) {}
}
