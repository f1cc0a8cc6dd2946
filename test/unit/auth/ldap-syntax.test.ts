import { FilterParser } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { escapeFilterValue } from '../../../src/auth/index.js';
import { fillFilter, filterPlaceholders, firstRdnValue } from '../../../src/auth/ldap-syntax.js';

describe('escapeFilterValue (RFC 4515)', () => {
  it.each([
    ['alice', 'alice'],
    ['*', '\\2a'],
    ['(', '\\28'],
    [')', '\\29'],
    ['\\', '\\5c'],
    ['\u0000', '\\00'],
    ['*)(uid=*', '\\2a\\29\\28uid=\\2a'],
    ['a\nb', 'a\\0ab'],
    ['jörg', 'jörg'],
    ['a=b,c', 'a=b,c'],
  ])('%j → %j', (value, escaped) => {
    expect(escapeFilterValue(value)).toBe(escaped);
  });

  it('keeps an injection attempt a single equality assertion', () => {
    const filter = FilterParser.parseString(`(uid=${escapeFilterValue('*)(|(uid=*')})`);
    expect(filter.type).toBe(0xa3); // equalityMatch, not a substring or an OR
    expect(filter.toString()).toBe('(uid=\\2a\\29\\28|\\28uid=\\2a)');
  });
});

describe('fillFilter', () => {
  it('replaces placeholders with escaped values', () => {
    expect(fillFilter('(&(objectClass=person)(uid={username}))', { username: 'a*' })).toBe(
      '(&(objectClass=person)(uid=a\\2a))',
    );
    expect(fillFilter('(|(member={dn})(memberUid={username}))', { dn: 'uid=a(1),dc=x', username: 'a' })).toBe(
      '(|(member=uid=a\\281\\29,dc=x)(memberUid=a))',
    );
  });

  it('refuses unknown placeholders', () => {
    expect(() => fillFilter('(uid={user})', { username: 'a' })).toThrow('{user}');
  });

  it('lists placeholders', () => {
    expect(filterPlaceholders('(|(member={dn})(memberUid={username}))')).toEqual(['dn', 'username']);
    expect(filterPlaceholders('(objectClass=*)')).toEqual([]);
  });
});

describe('firstRdnValue', () => {
  it.each([
    ['cn=devs,ou=groups,dc=berth,dc=test', 'devs'],
    ['CN=Dev Ops,OU=Groups,DC=corp', 'Dev Ops'],
    ['cn=dev\\, ops,ou=groups', 'dev, ops'],
    ['cn=a\\+b+uid=x,dc=y', 'a+b'],
    ['cn=caf\\C3\\A9,dc=x', 'café'],
    ['cn=solo', 'solo'],
  ])('%s → %s', (dn, value) => {
    expect(firstRdnValue(dn)).toBe(value);
  });
});
