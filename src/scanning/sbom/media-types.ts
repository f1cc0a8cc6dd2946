/** The media types SBOMs are stored under as OCI referrers (their `artifactType` and layer media type). */
export const SbomMediaType = {
  Spdx: 'application/spdx+json',
  CycloneDx: 'application/vnd.cyclonedx+json',
} as const;
export type SbomMediaType = (typeof SbomMediaType)[keyof typeof SbomMediaType];

/** What writeSpdx / writeCycloneDx return: the document, and the exact bytes to store and digest. */
export interface SbomDocument<T> {
  mediaType: SbomMediaType;
  document: T;
  bytes: Buffer;
}
