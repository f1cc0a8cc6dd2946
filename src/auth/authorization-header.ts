import { AuthError } from './errors.js';

export type Credentials =
  | { scheme: 'basic'; username: string; password: string }
  | { scheme: 'bearer'; token: string };

// RFC 9110 section 11.2 token68.
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: RFC 7617 forbids control characters in the user-id.
const CONTROL = /[\u0000-\u001f\u007f]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function malformed(message: string): AuthError {
  return new AuthError('CREDENTIALS_MALFORMED', { message });
}

function parseBasic(value: string): Credentials {
  // Padding is optional (some clients drop it), but when present the length must be a multiple of 4.
  const badLength = value.includes('=') ? value.length % 4 !== 0 : value.length % 4 === 1;
  if (!BASE64.test(value) || badLength) throw malformed('Basic credentials are not base64');
  let decoded: string;
  try {
    decoded = utf8.decode(Buffer.from(value, 'base64'));
  } catch {
    throw malformed('Basic credentials are not UTF-8');
  }
  // RFC 7617: the user-id cannot contain ':', the password can; split at the first one.
  const colon = decoded.indexOf(':');
  if (colon < 0) throw malformed('Basic credentials lack the ":" between user and password');
  const username = decoded.slice(0, colon);
  if (CONTROL.test(username)) throw malformed('Basic user-id contains a control character');
  return { scheme: 'basic', username, password: decoded.slice(colon + 1) };
}

/**
 * Parses an Authorization header. Returns null when there is none or its scheme is neither Basic nor Bearer
 * (the server then challenges as for an anonymous request); throws CREDENTIALS_MALFORMED when a Basic or
 * Bearer value is broken.
 */
export function parseAuthorization(header: string | undefined | null): Credentials | null {
  const trimmed = header?.trim() ?? '';
  if (trimmed === '') return null;
  // The value starts at the first non-space and holds no line terminator. (`(?: +(.*))?$` backtracked over
  // every split of a run of spaces when a line terminator followed: quadratic.)
  const match =
    /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?: +([^ \n\r\u2028\u2029][^\n\r\u2028\u2029]*))?$/.exec(trimmed);
  if (!match) throw malformed('Authorization header is not "<scheme> <credentials>"');
  const scheme = (match[1] as string).toLowerCase();
  const value = match[2] ?? '';
  if (scheme === 'basic') {
    if (value === '') throw malformed('Basic credentials are empty');
    return parseBasic(value);
  }
  if (scheme === 'bearer') {
    if (!TOKEN68.test(value)) throw malformed('Bearer token is not a token68 value');
    return { scheme: 'bearer', token: value };
  }
  return null;
}

/** The inverse of Basic parsing: what a client sends. Useful to tests and to outgoing requests (proxying). */
export function basicAuthorization(username: string, password: string): string {
  if (username.includes(':')) throw new TypeError('a Basic user-id cannot contain ":"');
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}
