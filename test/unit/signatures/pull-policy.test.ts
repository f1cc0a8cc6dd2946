// The pull-time decision as a table: (assessment, policy, reader) → allow / warn / bypass / refuse, and the
// refusal's words.
import { describe, expect, it } from 'vitest';
import {
  type Assessment,
  decidePull,
  missingText,
  type PolicyInForce,
} from '../../../src/signatures/policy/pull-policy.js';
import type { SignatureResult } from '../../../src/signatures/types.js';

const enforce: PolicyInForce = { project: 'team', mode: 'enforce', repositories: null };
const warn: PolicyInForce = { ...enforce, mode: 'warn' };
const off: PolicyInForce = { ...enforce, mode: 'off' };
const D = `sha256:${'a'.repeat(64)}`;

const result = (status: SignatureResult['status'], reason?: string): SignatureResult => ({
  format: 'cosign',
  signatureDigest: `sha256:${'b'.repeat(64)}`,
  status,
  ...(reason && { reason }),
});
const unverified = (...signatures: SignatureResult[]): Assessment => ({
  kind: 'unverified',
  verdict: { digest: D, verified: false, signatures },
});

describe('decidePull', () => {
  const cases: [string, Parameters<typeof decidePull>[0], PolicyInForce, boolean, string][] = [
    ['off: anything goes', unverified(), off, false, 'allow'],
    ['verified', { kind: 'verified', signer: 'ci' }, enforce, false, 'allow'],
    ['verified through an index', { kind: 'verified', signer: 'ci', via: D }, enforce, false, 'allow'],
    ['a signature', { kind: 'exempt', why: 'signature' }, enforce, false, 'allow'],
    ['a referrer', { kind: 'exempt', why: 'referrer' }, enforce, false, 'allow'],
    ['a blob of a signed image', { kind: 'covered', manifest: D }, enforce, false, 'allow'],
    ['unsigned under enforce', unverified(), enforce, false, 'refuse'],
    ['unsigned under enforce, bypass', unverified(), enforce, true, 'bypass'],
    ['unsigned under warn', unverified(), warn, false, 'warn'],
    ['unsigned under warn, bypass: a warning all the same', unverified(), warn, true, 'warn'],
    ['uncovered blob under enforce', { kind: 'uncovered', manifests: 1 }, enforce, false, 'refuse'],
  ];
  for (const [label, assessment, policy, mayBypass, outcome] of cases) {
    it(label, () => {
      expect(decidePull(assessment, policy, { mayBypass }).outcome).toBe(outcome);
    });
  }

  it('names the project, the policy and what was missing', () => {
    const decision = decidePull(unverified(result('untrusted')), enforce, { mayBypass: false });
    expect(decision).toEqual({
      outcome: 'refuse',
      policy: 'signatures.required',
      message:
        'project team requires signatures (policy signatures.required=enforce): no signature from a trusted key; ' +
        '1 signature present, made by an unknown key',
    });
  });

  it('names the repository scope when there is one', () => {
    const scoped = { ...enforce, repositories: ['team/prod/**', 'team/app'] };
    const decision = decidePull(unverified(), scoped, { mayBypass: false });
    expect(decision.outcome === 'refuse' && decision.message).toBe(
      'project team requires signatures (policy signatures.required=enforce for repositories team/prod/**, team/app): ' +
        'no signature from a trusted key; the artifact is not signed',
    );
  });

  it('explains a blob', () => {
    const decision = decidePull({ kind: 'uncovered', manifests: 2 }, enforce, { mayBypass: false });
    expect(decision.outcome === 'refuse' && decision.message).toMatch(
      /: it is part of no signed image in the repository \(2 images use it, none signed\)$/,
    );
  });
});

describe('missingText', () => {
  it('counts signatures by what is wrong with them', () => {
    const text = missingText({
      digest: D,
      verified: false,
      signatures: [
        result('untrusted'),
        result('invalid', 'payload names another digest'),
        result('untrusted'),
      ],
    });
    expect(text).toBe(
      'no signature from a trusted key; 3 signatures present: 2 made by an unknown key, 1 invalid (payload names another digest)',
    );
  });

  it('one invalid signature', () => {
    expect(
      missingText({ digest: D, verified: false, signatures: [result('invalid', 'bad signature')] }),
    ).toBe('no signature from a trusted key; 1 signature present, invalid (bad signature)');
  });
});
