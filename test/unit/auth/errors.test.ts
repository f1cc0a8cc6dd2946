import { describe, expect, it } from 'vitest';
import { AUTH_ERROR_CODES, AuthError, type AuthErrorCode } from '../../../src/auth/index.js';

describe('AuthError', () => {
  it.each<[AuthErrorCode, number]>([
    ['SCOPE_INVALID', 400],
    ['CREDENTIALS_MALFORMED', 400],
    ['ALLOWLIST_INVALID', 400],
    ['TOKEN_INVALID', 401],
    ['KEY_INVALID', 500],
    ['LDAP_MISCONFIGURED', 500],
    ['LDAP_UNAVAILABLE', 503],
  ])('%s answers %i with the table message by default', (code, status) => {
    const error = new AuthError(code);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('AuthError');
    expect(error.code).toBe(code);
    expect(error.status).toBe(status);
    expect(error.message).toBe(AUTH_ERROR_CODES[code].message);
  });

  it('keeps a precise message, detail and cause', () => {
    const cause = new Error('ECONNREFUSED');
    const error = new AuthError('LDAP_UNAVAILABLE', { message: 'down', detail: { url: 'ldap://x' }, cause });
    expect(error.message).toBe('down');
    expect(error.detail).toEqual({ url: 'ldap://x' });
    expect(error.cause).toBe(cause);
  });

  it('declares every code exactly once in the table', () => {
    expect(Object.keys(AUTH_ERROR_CODES).sort()).toEqual(
      [
        'ALLOWLIST_INVALID',
        'CREDENTIALS_MALFORMED',
        'KEY_INVALID',
        'LDAP_MISCONFIGURED',
        'LDAP_UNAVAILABLE',
        'SCOPE_INVALID',
        'TOKEN_INVALID',
      ].sort(),
    );
  });
});
