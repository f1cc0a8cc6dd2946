// Sends a FuzzRequest over a real socket (node:http: the path goes out byte for byte, `..` included) and
// checks each answer against the invariants.
import { Agent, request as httpRequest } from 'node:http';
import type { FuzzTarget } from './fuzz-target.js';
import type { FuzzRequest } from './requests.js';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  ms: number;
}

/** Generous for a loaded 2-core machine: a request this slow counts as a hang. */
export const REQUEST_TIMEOUT_MS = 30_000;

const agent = new Agent({ keepAlive: true, maxSockets: 8 });

function authorization(request: FuzzRequest, target: FuzzTarget): string | undefined {
  if (request.caller === 'anonymous') return request.scheme === 'garbage' ? 'Basic %%%' : undefined;
  const login = target.callers[request.caller];
  const basic = (password: string) =>
    `Basic ${Buffer.from(`${login.username}:${password}`).toString('base64')}`;
  switch (request.scheme) {
    case 'basic':
      return basic(login.password);
    case 'bearer':
      // The API takes Basic only; sending a token there is one more refusal to check.
      return `Bearer ${login.token}`;
    case 'wrong':
      return basic(`${login.password}-wrong`);
    case 'garbage':
      return `Bearer ${login.token.slice(0, -3)}!!`;
  }
}

export function send(target: FuzzTarget, request: FuzzRequest): Promise<Answer> {
  const url = new URL(target.berth.url);
  const headers: Record<string, string> = { ...request.headers };
  const auth = authorization(request, target);
  if (auth) headers.authorization = auth;
  // Framed either way: Node's client sends a DELETE or OPTIONS body unframed unless told (bytes the server
  // would rightly read as the next request's head).
  if (request.body !== undefined) {
    if (request.chunked) headers['transfer-encoding'] = 'chunked';
    else headers['content-length'] = String(request.body.length);
  }
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: request.method,
        // Node refuses to send spaces, controls and non-ASCII in a request line: those go percent-encoded.
        path: request.path.replace(/[^\x21-\x7e]/gu, (char) => encodeURIComponent(char)),
        headers,
        agent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            ms: performance.now() - started,
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () =>
      req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms (a hang)`)),
    );
    req.on('error', (error) => {
      // The server may answer (413, 401…) and close before the whole body is sent: that is an answer too.
      reject(error);
    });
    if (request.body !== undefined) req.end(request.body);
    else req.end();
  });
}

/** Why an answer breaks the invariants, or undefined when it keeps them. */
export function violation(request: FuzzRequest, answer: Answer): string | undefined {
  if (answer.status >= 500) return `${answer.status}: ${answer.body.toString('utf8', 0, 500)}`;
  if (answer.status < 400 || request.method === 'HEAD') return undefined;
  const text = answer.body.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return `${answer.status} with a body that is not JSON: ${text.slice(0, 200)}`;
  }
  const errors = (parsed as { errors?: unknown }).errors;
  const first = Array.isArray(errors) ? (errors[0] as Record<string, unknown> | undefined) : undefined;
  if (!first || typeof first.code !== 'string' || typeof first.message !== 'string') {
    return `${answer.status} not in the {"errors":[{code,message}]} format: ${text.slice(0, 200)}`;
  }
  const type = String(answer.headers['content-type'] ?? '');
  if (!type.startsWith('application/json')) return `${answer.status} error with Content-Type ${type}`;
  if (answer.status === 429 && answer.headers['retry-after'] === undefined) return '429 without Retry-After';
  return undefined;
}

/** Methods that change something when they succeed. */
export function mutates(request: FuzzRequest): boolean {
  return !['GET', 'HEAD', 'OPTIONS'].includes(request.method) && !request.path.startsWith('/token');
}

export function closeAgent(): void {
  agent.destroy();
}
