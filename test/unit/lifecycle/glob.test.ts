// The glob matcher of immutability rules: `*` and `?` within a path segment, `**` across segments.
import { describe, expect, it } from 'vitest';
import { compileGlob, matchesGlob } from '../../../src/lifecycle/index.js';

const CASES: [pattern: string, name: string, matches: boolean][] = [
  // literals match only themselves, whole
  ['team/app', 'team/app', true],
  ['team/app', 'team/app2', false],
  ['team/app', 'xteam/app', false],
  ['latest', 'latest', true],
  ['latest', 'Latest', false],
  // `*` stays within a segment
  ['v*', 'v1.0', true],
  ['v*', 'v', true],
  ['v*', 'x1.0', false],
  ['team/*', 'team/app', true],
  ['team/*', 'team/a/b', false],
  ['team/*', 'team', false],
  ['*/app', 'team/app', true],
  ['*/app', 'a/b/app', false],
  ['*', 'busybox', true],
  ['*', 'team/app', false],
  ['*-rc*', '1.0-rc2', true],
  ['*-rc*', '1.0-beta', false],
  // `?` is one character, never `/`
  ['v?.?', 'v1.2', true],
  ['v?.?', 'v10.2', false],
  ['team/ap?', 'team/app', true],
  ['team?app', 'team/app', false],
  // `**` as a whole segment: any number of segments, none included
  ['team/**', 'team', true],
  ['team/**', 'team/app', true],
  ['team/**', 'team/a/b/c', true],
  ['team/**', 'teamwork/app', false],
  ['team/**', 'teamx', false],
  ['**/app', 'app', true],
  ['**/app', 'team/app', true],
  ['**/app', 'a/b/app', true],
  ['**/app', 'a/b/myapp', false],
  ['a/**/b', 'a/b', true],
  ['a/**/b', 'a/x/b', true],
  ['a/**/b', 'a/x/y/b', true],
  ['a/**/b', 'a/xb', false],
  ['**', 'anything/at/all', true],
  ['**', '', true],
  // `**` inside a segment: anything, `/` included
  ['team/app**', 'team/app/x/y', true],
  ['team/app**', 'team/apple', true],
  ['v1.0***', 'v1.0-anything', true],
  // regex characters are literal
  ['v1.0', 'v1x0', false],
  ['a+b', 'a+b', true],
  ['a+b', 'aab', false],
  ['(x)|y', '(x)|y', true],
  ['(x)|y', 'y', false],
  ['a$', 'a$', true],
  ['[ab]', 'a', false],
  ['[ab]', '[ab]', true],
];

describe('glob', () => {
  for (const [pattern, name, matches] of CASES) {
    it(`${JSON.stringify(pattern)} ${matches ? 'matches' : 'does not match'} ${JSON.stringify(name)}`, () => {
      expect(matchesGlob(pattern, name)).toBe(matches);
    });
  }

  it('compiles once and matches many names', () => {
    const matcher = compileGlob('team/**');
    expect(['team/a', 'team/b/c', 'other/a'].map(matcher)).toEqual([true, true, false]);
  });
});

describe('patterns that make a backtracking matcher explode', () => {
  // With a RegExp, `*a` twelve times against 128 `a`s ran for longer than anyone waits (each `*a` ~100× more):
  // before the automaton, this test timed out.
  it('answers at once, and rightly', () => {
    const pattern = `${'*a'.repeat(12)}*b`;
    expect(matchesGlob(pattern, 'a'.repeat(128))).toBe(false);
    expect(matchesGlob(pattern, `${'a'.repeat(127)}b`)).toBe(true);
    expect(matchesGlob(`**/${'*a'.repeat(12)}/**`, `x/${'a'.repeat(200)}/y`)).toBe(true);
    expect(matchesGlob(`${'**a'.repeat(12)}b`, `${'a/'.repeat(100)}c`)).toBe(false);
  });
});
