// The console's formatting and parsing of sizes, quotas, digests and errors.
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROJECT as SERVER_DEFAULT_PROJECT } from '../../src/auth/roles.js';
import { ApiError } from '../src/api/client';
import { errorMessage } from '../src/components/ui';
import { bytes, parseBytes, quotaPercent, shortDigest, when } from '../src/format';
import { DEFAULT_PROJECT, repositoryHref, repositoryPath } from '../src/names';
import { parseGlobs } from '../src/pages/trust-policy';

describe('bytes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [1024 * 1024 - 1, '1.0 MiB'], // not "1024.0 KiB"
    [1024 * 1024 - 52, '1023.9 KiB'],
    [5 * 1024 ** 3, '5.0 GiB'],
    [3 * 1024 ** 5, '3072.0 TiB'],
  ])('%d bytes read %s', (value, shown) => {
    expect(bytes(value)).toBe(shown);
  });
  it('shows a dash when the size is unknown', () => {
    expect(bytes(null)).toBe('—');
    expect(bytes(undefined)).toBe('—');
  });
});

describe('parseBytes (as `berth project quota --set` reads sizes)', () => {
  it.each([
    ['10000000', 10_000_000],
    ['500MB', 500_000_000],
    ['50 GB', 50_000_000_000],
    ['9.5 GiB', Math.round(9.5 * 2 ** 30)],
    ['1kib', 1024],
    [' 2 tb ', 2e12],
    ['0', 0],
  ])('%j is %d bytes', (text, value) => {
    expect(parseBytes(text)).toBe(value);
  });
  it.each(['', 'lots', '-1', '1.5', '10 XB', '5GB5', '1e3', '99999999999999999999'])(
    '%j is no size',
    (text) => {
      expect(parseBytes(text)).toBeUndefined();
    },
  );
});

describe('quotaPercent', () => {
  it('is null without a quota, whole percent below 100 until full, 100 at or over it', () => {
    expect(quotaPercent(5, null)).toBeNull();
    expect(quotaPercent(0, 1000)).toBe(0);
    expect(quotaPercent(995, 1000)).toBe(99); // not rounded up to "full"
    expect(quotaPercent(1000, 1000)).toBe(100);
    expect(quotaPercent(5000, 1000)).toBe(100);
    expect(quotaPercent(0, 0)).toBe(100);
  });
});

describe('digests, times and errors', () => {
  it('shortens a digest to 12 hex digits', () => {
    expect(shortDigest(`sha256:${'ab'.repeat(32)}`)).toBe('abababababab');
  });
  it('says never for a time that is not there', () => {
    expect(when(null)).toBe('never');
    expect(when(0)).not.toBe('never');
  });
  it('puts an API error in words with its status and code', () => {
    expect(
      errorMessage(
        new ApiError(403, "changing a project's quota needs system administrator rights", 'DENIED'),
      ),
    ).toBe("changing a project's quota needs system administrator rights (403 DENIED)");
    expect(errorMessage(new Error('Failed to fetch'))).toBe('Failed to fetch');
    expect(errorMessage('plain')).toBe('plain');
  });
});

describe('repository paths', () => {
  it('knows the default project the server knows', () => {
    expect(DEFAULT_PROJECT).toBe(SERVER_DEFAULT_PROJECT);
  });
  it('takes the project off nested names and keeps bare default-project names whole', () => {
    expect(repositoryPath('team', 'team/app')).toBe('app');
    expect(repositoryPath('team', 'team/a/b')).toBe('a/b');
    expect(repositoryPath('library', 'library/alpine')).toBe('alpine');
    expect(repositoryPath('library', 'busybox')).toBe('busybox');
    expect(repositoryPath('library', 'library')).toBe('library');
    expect(repositoryHref('team', 'team/a/b')).toBe('/projects/team/repositories/a%2Fb');
    expect(repositoryHref('library', 'busybox')).toBe('/projects/library/repositories/busybox');
  });
  it('reads repository globs one a line or comma-separated; none means every repository', () => {
    expect(parseGlobs('team/**, team/app\n  lib/*  \n')).toEqual(['team/**', 'team/app', 'lib/*']);
    expect(parseGlobs(' \n , ')).toBeNull();
  });
});
