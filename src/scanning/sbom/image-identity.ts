// What an SBOM says about the image it describes, and the stable names derived from it: the image's purl, the
// package order, and the identifiers that must not change when the same inventory is written again.
import { createHash } from 'node:crypto';
import { isDigest, isValidRepositoryName } from '../../registry/index.js';
import type { Inventory, Package } from '../types.js';

export interface ImageIdentity {
  /** The repository inside the registry: `library/debian`. */
  repository: string;
  /** The image manifest's digest. */
  digest: string;
  /** The registry's host[:port] as clients reach it; with it the purl's repository_url is a full reference. */
  registry?: string;
  tool: { name: 'berth'; version: string };
  created: Date;
}

export class SbomInputError extends Error {
  override name = 'SbomInputError';
}

export function assertIdentity(identity: ImageIdentity, inventory: Inventory): void {
  if (!isValidRepositoryName(identity.repository)) {
    throw new SbomInputError(`invalid repository name for an SBOM: ${JSON.stringify(identity.repository)}`);
  }
  if (!isDigest(identity.digest)) {
    throw new SbomInputError(`invalid image digest for an SBOM: ${JSON.stringify(identity.digest)}`);
  }
  if (inventory.subject !== identity.digest) {
    throw new SbomInputError(`the inventory is of ${inventory.subject}, not of ${identity.digest}`);
  }
  if (Number.isNaN(identity.created.getTime())) throw new SbomInputError('invalid SBOM creation time');
  if (!/^[A-Za-z0-9.+_-]+$/.test(identity.tool.version)) {
    throw new SbomInputError(`invalid tool version: ${JSON.stringify(identity.tool.version)}`);
  }
}

/** UTC to the second: SPDX 2.3's `created` pattern allows no fraction (`2024-05-01T12:00:00Z`). */
export function timestamp(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

/**
 * purl-spec's `oci` type: the last path segment as name, the digest as version (`:` escaped), the
 * repository as `repository_url`, e.g. `pkg:oci/debian@sha256%3Aab…?arch=amd64&repository_url=reg.example/library/debian`.
 */
export function imagePurl(identity: ImageIdentity, platform?: string): string {
  const name = identity.repository.split('/').at(-1) as string;
  const repositoryUrl = identity.registry
    ? `${identity.registry}/${identity.repository}`
    : identity.repository;
  const qualifiers: string[] = [];
  const arch = platform?.split('/')[1];
  if (arch) qualifiers.push(`arch=${encodeURIComponent(arch)}`);
  // `/` and `:` are safe in a qualifier value (purl-spec: only the characters that would end it are escaped).
  qualifiers.push(
    `repository_url=${encodeURIComponent(repositoryUrl).replace(/%2F/g, '/').replace(/%3A/g, ':')}`,
  );
  return `pkg:oci/${encodeURIComponent(name)}@${encodeURIComponent(identity.digest)}?${qualifiers.join('&')}`;
}

/** The name a person reads: `@types/node`, `org.apache.commons:commons-text`, `openssl`. */
export function displayName(pkg: Package): string {
  if (pkg.type === 'npm' && pkg.namespace) return `${pkg.namespace}/${pkg.name}`;
  if (pkg.type === 'maven' && pkg.namespace) return `${pkg.namespace}:${pkg.name}`;
  return pkg.name;
}

/**
 * The inventory's packages in a stable order (purl, then location), one entry per (purl, location): the same
 * inventory always yields the same document, whatever order the analyzers reported in.
 */
export function orderedPackages(packages: readonly Package[]): Package[] {
  const seen = new Map<string, Package>();
  for (const pkg of packages) {
    const key = `${pkg.purl}\0${pkg.location}`;
    if (!seen.has(key)) seen.set(key, pkg);
  }
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, pkg]) => pkg);
}

/** A short stable hash of a package's identity in the image, for ids that must be unique in a document. */
export function packageKey(pkg: Package): string {
  return sha256Hex(`${pkg.purl}\0${pkg.location}`).slice(0, 16);
}

/**
 * A fingerprint of what a document says (image, generator, packages, OS): equal inventories give equal
 * fingerprints, so the namespace / serial number derived from it is stable when the SBOM is written again, and
 * a changed inventory (a newer analyzer found more) gets a new one, as SPDX and CycloneDX ask.
 */
export function contentFingerprint(
  identity: ImageIdentity,
  inventory: Inventory,
  packages: Package[],
): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify([identity.registry ?? '', identity.repository, identity.digest, identity.tool]));
  hash.update(JSON.stringify(inventory.facts.os ?? null));
  for (const pkg of packages) {
    hash.update(
      JSON.stringify([pkg.purl, pkg.location, pkg.layer, pkg.license, pkg.source, pkg.arch, pkg.namespace]),
    );
  }
  return hash.digest('hex');
}

/** An RFC 4122 name-based UUID (version 5 layout) from a fingerprint: `urn:uuid:` serial numbers. */
export function uuidFromFingerprint(fingerprint: string): string {
  const bytes = createHash('sha1').update(fingerprint).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
