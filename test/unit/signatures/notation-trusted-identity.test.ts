import 'reflect-metadata';
import { Name } from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import { checkTrustedIdentity } from '../../../src/signatures/notation/index.js';
import { matchesTrustedIdentity } from '../../../src/signatures/notation/trusted-identity.js';

// trust-store-trust-policy.md "Trusted Identities Constraints".
describe('notation trusted identities', () => {
  const subject = new Name('C=US, ST=WA, L=Seattle, O=acme-rockets.io, OU=Finance, CN=SecureBuilder');

  it.each([
    ['*', true],
    ['x509.subject: C=US, ST=WA, L=Seattle, O=acme-rockets.io, OU=Finance, CN=SecureBuilder', true],
    ['x509.subject: C=US, ST=WA, O=acme-rockets.io', true],
    ['x509.subject:C=US,ST=WA,O=acme-rockets.io,CN=SecureBuilder', true],
    ['  x509.subject:  cn=SecureBuilder , o=acme-rockets.io, st=WA, c=US  ', true],
    ['x509.subject: 2.5.4.6=US, 2.5.4.8=WA, 2.5.4.10=acme-rockets.io', true],
    ['x509.subject: C=US, ST=WA, O=acme-rockets.io, CN=Builder', false],
    ['x509.subject: C=US, ST=WA, O=acme-rockets.io, CN=securebuilder', false],
    ['x509.subject: C=US, ST=CA, O=acme-rockets.io', false],
    ['x509.subject: C=US, ST=WA, O=acme-rockets.io, E=ci@acme-rockets.io', false],
    // Malformed identities never match.
    ['x509.subject: CN=SecureBuilder', false],
    ['CN=SecureBuilder', false],
    ['x509.subject: C=US, ST=WA, O=acme-rockets.io, FOO=bar', false],
    ['', false],
  ])('%j matches: %s', (identity, expected) => {
    expect(matchesTrustedIdentity(identity, subject)).toBe(expected);
  });

  it('unescapes values as the spec requires (\\, \\; \\\\ and spaces, and hex pairs)', () => {
    const escaped = new Name('C=US, ST=WA, O=Acme\\, Inc.\\; R&D\\\\Labs, CN=\\ ci ');
    expect(escaped.getField('O')).toEqual(['Acme, Inc.; R&D\\Labs']);
    expect(matchesTrustedIdentity('x509.subject: C=US, ST=WA, O=Acme\\, Inc.\\; R&D\\\\Labs', escaped)).toBe(
      true,
    );
    expect(
      matchesTrustedIdentity('x509.subject: C=US, ST=WA, O=Acme\\2C Inc.\\3B R&D\\5CLabs', escaped),
    ).toBe(true);
    expect(matchesTrustedIdentity('x509.subject: C=US, ST=WA, O=Acme, Inc.', escaped)).toBe(false);
    const unicode = new Name('C=DE, ST=Bayern, O=Müller 🚢 GmbH');
    expect(matchesTrustedIdentity('x509.subject: C=DE, ST=Bayern, O=Müller 🚢 GmbH', unicode)).toBe(true);
  });

  it('explains what is wrong with a malformed identity', () => {
    expect(checkTrustedIdentity('*')).toBeUndefined();
    expect(checkTrustedIdentity('x509.subject: C=US, ST=WA, O=Acme, CN=ci')).toBeUndefined();
    expect(checkTrustedIdentity('x509.subject: C=US, O=Acme')).toContain('ST is missing');
    expect(checkTrustedIdentity('CN=ci')).toContain('x509.subject:');
    expect(checkTrustedIdentity('x509.subject: C=US, ST=WA, O=Acme, C=DE')).toContain('twice');
    expect(checkTrustedIdentity('x509.subject: C=US, ST=WA, O=')).toContain('empty');
    expect(checkTrustedIdentity('x509.subject: C=US, ST=WA, O=Acme, NOPE=x')).toContain('NOPE');
    expect(checkTrustedIdentity('x509.subject: C=US, ST=WA, Acme')).toContain('TYPE=value');
  });
});
