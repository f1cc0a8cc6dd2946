import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { DestinationPolicy } from './destination-policy.js';

export interface PostOptions {
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
  /** When set, the connection may only go to addresses it allows (checked on the address connected to). */
  policy?: DestinationPolicy | undefined;
  /** Bytes of the answer kept (the rest is read and dropped). */
  keepBytes: number;
}

/**
 * One POST with node:http(s), which (unlike fetch) takes a `lookup` for the connection: the destination
 * policy sees the very addresses the socket connects to. Never follows a redirect (a signed body must not be
 * re-sent elsewhere). Resolves with the status and the first `keepBytes` of the answer.
 */
export async function postOnce(url: URL, options: PostOptions): Promise<{ status: number; text: string }> {
  options.policy?.checkLiteral(url);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const body = Buffer.from(options.body);
  const requestOptions: RequestOptions = {
    method: 'POST',
    headers: { ...options.headers, 'content-length': String(body.length) },
    signal: options.signal,
    // No pooled sockets: each attempt connects (and is checked) anew.
    agent: false,
    ...(options.policy && { lookup: options.policy.lookup as RequestOptions['lookup'] }),
  };
  return new Promise((resolve, reject) => {
    const request = send(url, requestOptions, (response: IncomingMessage) => {
      const kept: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        if (size < options.keepBytes) kept.push(chunk.subarray(0, options.keepBytes - size));
        size += chunk.length;
      });
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, text: Buffer.concat(kept).toString('utf8') }),
      );
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}
