import type { Descriptor } from '../client/index.js';

/**
 * Whether an index child runs on one of `platforms` (`os/arch` or `os/arch/variant`, as docker's --platform).
 * A filter without a variant takes every variant; a child without a platform (an attestation) never matches.
 */
export function matchesPlatform(child: Descriptor, platforms: string[]): boolean {
  const platform = child.platform;
  if (!platform) return false;
  return platforms.some((wanted) => {
    const [os, architecture, variant] = wanted.split('/');
    return (
      os === platform.os &&
      architecture === platform.architecture &&
      (variant === undefined || variant === platform.variant)
    );
  });
}

/** Checks the filter's shape up front, so a typo is an error rather than "nothing matched". */
export function assertPlatforms(platforms: string[]): void {
  for (const wanted of platforms) {
    if (!/^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/i.test(wanted)) {
      throw new Error(`platform filter "${wanted}": expected os/arch or os/arch/variant, e.g. linux/arm64`);
    }
  }
}
