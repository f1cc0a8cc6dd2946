// Raw HTTP for tests: requests whose bodies the test writes piece by piece (so it can stop half-way, lie about
// sizes or drop the connection), with headers exactly as given (fetch computes Content-Length itself).
import http, { type Agent, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** What rawRequest answers (the same as Reply). */
export type RawResponse = Reply;

export interface OpenRequest {
  /** Writes a piece of the body; resolves once it is handed to the socket. */
  write(data: Buffer): Promise<void>;
  /** Ends the body (after an optional last piece) and waits for the response. */
  end(data?: Buffer): Promise<Reply>;
  /** Destroys the socket: the server sees the client vanish mid-request. */
  abort(): void;
  /** The response; rejects when the connection dies first. Never an unhandled rejection. */
  reply: Promise<Reply>;
}

/** The response to `req`, read whole; rejects when the request or the response fails. */
function replyOf(req: http.ClientRequest): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('error', reject);
      res.once('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
  });
}

/**
 * Starts a request and sends its headers at once, leaving the body to the caller. Without `agent`, the
 * request gets a connection of its own, closed after the response.
 */
export function openRequest(
  base: string,
  method: string,
  path: string,
  headers: OutgoingHttpHeaders = {},
  agent?: Agent,
): OpenRequest {
  const url = new URL(path, base);
  const req = http.request(url, { method, headers, agent: agent ?? false });
  const reply = replyOf(req);
  reply.catch(() => {});
  req.flushHeaders();
  return {
    write: (data) =>
      new Promise<void>((resolve, reject) => {
        req.write(data, (error) => (error ? reject(error) : resolve()));
      }),
    end: async (data) => {
      if (data) req.end(data);
      else req.end();
      return reply;
    },
    abort: () => {
      req.destroy();
    },
    reply,
  };
}

/** One whole request. */
export async function send(
  base: string,
  method: string,
  path: string,
  options: { headers?: OutgoingHttpHeaders; body?: Buffer; agent?: Agent } = {},
): Promise<Reply> {
  const headers: OutgoingHttpHeaders = { ...options.headers };
  if (options.body !== undefined) {
    headers['content-length'] ??= options.body.length;
    headers['content-type'] ??= 'application/octet-stream';
  } else if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
    headers['content-length'] ??= 0;
  }
  return openRequest(base, method, path, headers, options.agent).end(options.body);
}

/** The `code` of the first error in an OCI error body. */
export function errorCode(reply: Reply): string | undefined {
  try {
    const body = JSON.parse(reply.body.toString('utf8')) as { errors?: { code?: string }[] };
    return body.errors?.[0]?.code;
  } catch {
    return undefined;
  }
}

/** A short description of a reply for assertion messages. */
export function describeReply(reply: Reply): string {
  return `${reply.status} ${JSON.stringify(reply.headers)} ${reply.body.toString('utf8').slice(0, 500)}`;
}

/**
 * A request with headers and path exactly as given (the caller decides Content-Length, so it can lie). Node's client does
 * not enforce Content-Length unless strictContentLength is set.
 */
export function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
  headers: Record<string, string | number>,
  body?: Buffer,
): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  // The path goes out verbatim (not through URL, which would normalise it).
  const req = http.request({ host: hostname, port, method, path, headers, agent: false });
  const reply = replyOf(req);
  req.end(body);
  return reply;
}

/**
 * Opens a TCP connection, sends the request head and `partial` bytes of a body that claims `contentLength` bytes,
 * then drops the connection: a client that dies mid-upload.
 */
export async function sendThenDisconnect(
  baseUrl: string,
  method: string,
  path: string,
  headers: Record<string, string | number>,
  partial: Buffer,
): Promise<void> {
  const { hostname, port } = new URL(baseUrl);
  const socket = net.connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const head = [
    `${method} ${path} HTTP/1.1`,
    `Host: ${hostname}:${port}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    '',
    '',
  ].join('\r\n');
  await new Promise<void>((resolve) => socket.write(head, () => resolve()));
  await new Promise<void>((resolve) => socket.write(partial, () => resolve()));
  await sleep(100);
  socket.destroy();
}
