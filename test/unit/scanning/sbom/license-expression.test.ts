// SPDX license expressions (SPDX 2.3 Annex D): what is one, in its canonical form, and what is free text.
import { describe, expect, it } from 'vitest';
import { normalizeLicenseExpression } from '../../../../src/scanning/sbom/index.js';
import { SPDX_LICENSE_IDS, SPDX_LIST_VERSION } from '../../../../src/scanning/sbom/spdx-license-list.js';
import { cycloneDxSpdxIds } from './sbom-schemas.js';

describe('SPDX license expressions', () => {
  it.each([
    ['MIT', 'MIT'],
    ['mit', 'MIT'],
    ['apache-2.0', 'Apache-2.0'],
    ['GPL-2.0+', 'GPL-2.0+'],
    ['GPL-2.0-or-later WITH Classpath-exception-2.0', 'GPL-2.0-or-later WITH Classpath-exception-2.0'],
    ['(MIT OR Apache-2.0)', 'MIT OR Apache-2.0'],
    ['MIT  or  ISC', 'MIT OR ISC'],
    ['(MIT OR ISC) AND BSD-3-Clause', '(MIT OR ISC) AND BSD-3-Clause'],
    ['MIT OR ISC AND BSD-3-Clause', 'MIT OR ISC AND BSD-3-Clause'],
    ['MIT AND (ISC OR 0BSD)', 'MIT AND (ISC OR 0BSD)'],
    ['((MIT))', 'MIT'],
    ['LicenseRef-Proprietary', 'LicenseRef-Proprietary'],
    ['DocumentRef-other:LicenseRef-X.1', 'DocumentRef-other:LicenseRef-X.1'],
    ['MIT AND LicenseRef-Custom', 'MIT AND LicenseRef-Custom'],
  ])('%s is the expression %s', (input, expected) => {
    expect(normalizeLicenseExpression(input)).toBe(expected);
  });

  it.each([
    'MIT License',
    'BSD',
    'GPLv2+',
    'Apache 2.0',
    'MIT/X11',
    '',
    '()',
    '(MIT',
    'MIT)',
    'MIT OR',
    'AND MIT',
    'MIT WITH',
    'MIT WITH NotAnException',
    'Mit Or ISC', // operators are all upper or all lower case
    'LicenseRef-has space',
    'LicenseRef-under_score',
    'public domain',
    `MIT${' OR MIT'.repeat(300)}`,
  ])('%j is not an expression', (input) => {
    expect(normalizeLicenseExpression(input)).toBeNull();
  });

  it('knows the same license list as the CycloneDX schema in the lockfile', () => {
    // When @cyclonedx/cyclonedx-library moves to a newer list, regenerate src/scanning/sbom/spdx-license-list.ts.
    const { version, ids } = cycloneDxSpdxIds();
    expect(SPDX_LIST_VERSION).toBe(version);
    expect([...SPDX_LICENSE_IDS].sort()).toEqual([...ids].sort());
  });
});
