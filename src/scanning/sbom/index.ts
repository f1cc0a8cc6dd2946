// The sbom folder's public face: an inventory written as SPDX 2.3 or CycloneDX 1.5 JSON, and packaged as an OCI
// referrer artifact of its image.
export { type CycloneDxBom, writeCycloneDx } from './cyclonedx.js';
export { type ImageIdentity, SbomInputError } from './image-identity.js';
export { normalizeLicenseExpression } from './license-expression.js';
export { type SbomDocument, SbomMediaType } from './media-types.js';
export {
  buildSbomReferrer,
  type Descriptor,
  EMPTY_CONFIG,
  SBOM_GENERATOR_ANNOTATION,
  type SbomReferrer,
  type SbomReferrerInput,
} from './referrer-artifact.js';
export { SPDX_NAMESPACE_BASE, type SpdxDocument, writeSpdx } from './spdx.js';
