import { describe, expect, it } from 'vitest';
import { AuthError, basicAuthorization, parseAuthorization } from '../../../src/auth/index.js';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

describe('parseAuthorization: Basic', () => {
  it('decodes user:password', () => {
    expect(parseAuthorization(`Basic ${b64('alice:secret')}`)).toEqual({
      scheme: 'basic',
      username: 'alice',
      password: 'secret',
    });
  });

  it('splits at the first colon: the password may contain colons', () => {
    expect(parseAuthorization(`Basic ${b64('alice:a:b::c:')}`)).toMatchObject({
      username: 'alice',
      password: 'a:b::c:',
    });
  });

  it('allows an empty password and robot names with $ and +', () => {
    expect(parseAuthorization(`Basic ${b64('robot$team+ci:')}`)).toMatchObject({
      username: 'robot$team+ci',
      password: '',
    });
  });

  it('decodes UTF-8 credentials', () => {
    expect(parseAuthorization(`Basic ${b64('jörg:pässwörd🔑')}`)).toMatchObject({
      username: 'jörg',
      password: 'pässwörd🔑',
    });
  });

  it('takes the scheme case-insensitively, extra spaces, and missing base64 padding', () => {
    const unpadded = b64('al:x').replace(/=+$/, '');
    expect(unpadded.length % 4).not.toBe(0);
    expect(parseAuthorization(`bAsIc   ${unpadded}`)).toMatchObject({ username: 'al', password: 'x' });
    expect(parseAuthorization(`  Basic ${b64('al:x')}  `)).toMatchObject({ username: 'al', password: 'x' });
  });

  it.each([
    ['no colon', `Basic ${b64('alice')}`, 'lack the ":"'],
    ['not base64', 'Basic !!!!', 'not base64'],
    ['bad padding', `Basic ${b64('alice:pw')}=`, 'not base64'],
    ['impossible length', 'Basic abcde', 'not base64'],
    ['invalid UTF-8', `Basic ${Buffer.from([0x61, 0x3a, 0xff, 0xfe]).toString('base64')}`, 'not UTF-8'],
    ['control character in user', `Basic ${b64('ali\nce:pw')}`, 'control character'],
    ['empty', 'Basic', 'empty'],
    ['scheme glued to value', 'Basic:abc', 'not "<scheme> <credentials>"'],
  ])('rejects %s', (_label, header, message) => {
    try {
      parseAuthorization(header);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(AuthError);
      expect((error as AuthError).code).toBe('CREDENTIALS_MALFORMED');
      expect((error as AuthError).status).toBe(400);
      expect((error as AuthError).message).toContain(message);
    }
  });
});

describe('parseAuthorization: Bearer', () => {
  it('returns the token', () => {
    const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln-_';
    expect(parseAuthorization(`Bearer ${jwt}`)).toEqual({ scheme: 'bearer', token: jwt });
    expect(parseAuthorization('bearer abc==')).toEqual({ scheme: 'bearer', token: 'abc==' });
  });

  it.each(['Bearer', 'Bearer a b', 'Bearer a"b', 'Bearer =abc', 'Bearer a,b'])('rejects %j', (header) => {
    expect(() => parseAuthorization(header)).toThrow(AuthError);
  });
});

describe('parseAuthorization: absent or other schemes', () => {
  it.each([undefined, null, '', '   ', 'Digest username="a"', 'Negotiate abc'])(
    'returns null for %j',
    (header) => {
      expect(parseAuthorization(header)).toBeNull();
    },
  );
});

describe('basicAuthorization', () => {
  it('round-trips through parseAuthorization', () => {
    expect(parseAuthorization(basicAuthorization('bob', 'p:w é'))).toEqual({
      scheme: 'basic',
      username: 'bob',
      password: 'p:w é',
    });
  });

  it('refuses a user-id with a colon', () => {
    expect(() => basicAuthorization('a:b', 'pw')).toThrow(TypeError);
  });
});
