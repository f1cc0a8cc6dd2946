import { type Access, formatScopes } from './scope.js';

/**
 * WWW-Authenticate values. Bearer follows RFC 6750 section 3 as Distribution emits it
 * (`Bearer realm="…",service="…",scope="…"`); Basic follows RFC 7617.
 */

/** RFC 9110 quoted-string: backslash-escape `"` and `\`; refuse control characters (they would split the header). */
export function quote(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) {
    throw new TypeError(`challenge parameter contains a control character: ${JSON.stringify(value)}`);
  }
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

export type BearerError = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

export interface BearerChallenge {
  /** The token endpoint URL. */
  realm: string;
  /** The audience the token must be for. */
  service: string;
  /** What the request needs; several resource scopes are joined with spaces in one parameter. */
  scope?: readonly Access[] | string;
  /** `insufficient_scope` when a valid token lacks the access; `invalid_token` when it failed verification. */
  error?: BearerError;
  errorDescription?: string;
}

export function bearerChallenge(challenge: BearerChallenge): string {
  const params = [`realm=${quote(challenge.realm)}`, `service=${quote(challenge.service)}`];
  const scope = typeof challenge.scope === 'string' ? challenge.scope : formatScopes(challenge.scope ?? []);
  if (scope !== '') params.push(`scope=${quote(scope)}`);
  if (challenge.error) params.push(`error=${quote(challenge.error)}`);
  if (challenge.errorDescription) params.push(`error_description=${quote(challenge.errorDescription)}`);
  return `Bearer ${params.join(',')}`;
}

export function basicChallenge(realm: string): string {
  return `Basic realm=${quote(realm)},charset="UTF-8"`;
}
