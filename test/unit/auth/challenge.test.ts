import { describe, expect, it } from 'vitest';
import { basicChallenge, bearerChallenge, parseScopes, quote } from '../../../src/auth/index.js';

describe('bearerChallenge', () => {
  it('matches the token spec example', () => {
    expect(
      bearerChallenge({
        realm: 'https://auth.docker.io/token',
        service: 'registry.docker.io',
        scope: parseScopes('repository:samalba/my-app:pull,push'),
      }),
    ).toBe(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"',
    );
  });

  it('omits scope when there is none (the /v2/ base check)', () => {
    expect(bearerChallenge({ realm: 'https://r.test/token', service: 'r.test' })).toBe(
      'Bearer realm="https://r.test/token",service="r.test"',
    );
    expect(bearerChallenge({ realm: 'https://r.test/token', service: 'r.test', scope: [] })).not.toContain(
      'scope',
    );
  });

  it('joins several scopes with spaces in one parameter (cross-repository mount)', () => {
    const scope = parseScopes(['repository:a/b:pull,push', 'repository:c/d:pull']);
    expect(bearerChallenge({ realm: 'https://r/token', service: 'r', scope })).toBe(
      'Bearer realm="https://r/token",service="r",scope="repository:a/b:pull,push repository:c/d:pull"',
    );
  });

  it('adds error="insufficient_scope" and a description when asked', () => {
    const header = bearerChallenge({
      realm: 'https://r/token',
      service: 'r',
      scope: 'repository:a:push',
      error: 'insufficient_scope',
      errorDescription: 'push "denied"',
    });
    expect(header).toBe(
      'Bearer realm="https://r/token",service="r",scope="repository:a:push",error="insufficient_scope",error_description="push \\"denied\\""',
    );
  });
});

describe('basicChallenge', () => {
  it('names the realm and UTF-8 (RFC 7617)', () => {
    expect(basicChallenge('Berth')).toBe('Basic realm="Berth",charset="UTF-8"');
  });
});

describe('quote', () => {
  it('escapes quotes and backslashes', () => {
    expect(quote('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(quote('')).toBe('""');
    expect(quote('tab\tok é')).toBe('"tab\tok é"');
  });

  it.each(['line\r\nInjected: yes', 'a\nb', 'nul\u0000', 'del\u007f'])(
    'refuses control characters in %j',
    (value) => {
      expect(() => quote(value)).toThrow(TypeError);
      expect(() => basicChallenge(value)).toThrow(TypeError);
    },
  );
});
