import { compare, valid } from '@renovatebot/pep440';
import { InvalidVersion, type Ordering, sign } from './invalid-version.js';

/** PEP 440 ordering (PyPI): epochs, pre/post/dev releases, local versions. */
export function comparePep440(a: string, b: string): Ordering {
  for (const version of [a, b]) if (!valid(version)) throw new InvalidVersion('pep440', version);
  return sign(compare(a, b));
}
