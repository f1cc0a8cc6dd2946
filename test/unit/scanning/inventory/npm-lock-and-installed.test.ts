// A package named both by package-lock.json and by the package.json it installed is one package of the image,
// not two; the same package installed in two places stays two.
import { describe, expect, it } from 'vitest';
import { inventoryImage } from '../../../../src/scanning/inventory/index.js';
import { imageOf, layer } from '../../../fixtures/scanning/layers.js';

const lock = {
  name: 'app',
  version: '1.0.0',
  lockfileVersion: 3,
  packages: {
    '': { name: 'app', version: '1.0.0', dependencies: { semver: '^7.5.0' } },
    'node_modules/semver': { version: '7.5.1', license: 'ISC' },
    'node_modules/lru-cache/node_modules/semver': { version: '6.3.0', license: 'ISC' },
  },
};

describe('npm packages found by the lockfile and by node_modules', () => {
  it('keeps one package per purl and location', async () => {
    const built = await layer([
      { name: 'app/package-lock.json', content: JSON.stringify(lock) },
      { name: 'app/node_modules/semver/package.json', content: '{"name":"semver","version":"7.5.1"}' },
      {
        name: 'app/node_modules/lru-cache/node_modules/semver/package.json',
        content: '{"name":"semver","version":"6.3.0"}',
      },
    ]);
    const inventory = await inventoryImage(imageOf([built]));
    const npm = inventory.packages.filter((pkg) => pkg.type === 'npm');
    expect(npm.map((pkg) => [pkg.purl, pkg.location])).toEqual([
      ['pkg:npm/semver@6.3.0', '/app/node_modules/lru-cache/node_modules/semver/package.json'],
      ['pkg:npm/semver@7.5.1', '/app/node_modules/semver/package.json'],
    ]);
    expect(inventory.complete).toBe(true);
  });
});
