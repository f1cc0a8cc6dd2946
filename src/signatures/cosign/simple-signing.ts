// The simple-signing payload a cosign signature covers (containers-signature.5.md "JSON data format", with
// cosign's semantics from SIGNATURE_SPEC.md "Simple Signing"):
//   {"critical":{"identity":{"docker-reference":…},"image":{"docker-manifest-digest":"sha256:…"},
//    "type":"cosign container image signature"},"optional":{…} | null}
import { tryParseDigest } from '../../registry/index.js';
import { isJsonObject, parseJsonObject } from './json-bytes.js';
import { SIMPLE_SIGNING_TYPES } from './wire-format.js';

export type SimpleSigningPayload =
  | { ok: true; manifestDigest: string; dockerReference?: string }
  | { ok: false; problem: string };

const fail = (problem: string): SimpleSigningPayload => ({ ok: false, problem: `payload ${problem}` });

/**
 * Reads the payload strictly where the format says consumers MUST reject the unexpected (the `critical` object
 * and its members), leniently where it says SHOULD accept (`optional`; cosign writes `"optional": null`).
 */
export function readSimpleSigningPayload(bytes: Uint8Array): SimpleSigningPayload {
  const document = parseJsonObject(bytes);
  if (!document) return fail('is not a JSON object');
  const { critical, optional } = document;
  if (!isJsonObject(critical)) return fail('has no "critical" object');
  if (optional !== undefined && optional !== null && !isJsonObject(optional)) {
    return fail('"optional" is not an object');
  }
  const unexpected = Object.keys(critical).filter((key) => !['type', 'image', 'identity'].includes(key));
  if (unexpected.length > 0) return fail(`"critical" has unrecognised members: ${unexpected.join(', ')}`);

  if (typeof critical.type !== 'string' || !SIMPLE_SIGNING_TYPES.has(critical.type)) {
    return fail(
      `critical.type is not a container image signature (${JSON.stringify(critical.type ?? null)})`,
    );
  }

  const image = critical.image;
  if (!isJsonObject(image)) return fail('has no critical.image object');
  // cosign reads it with Go's case-insensitive JSON field matching, and its own spec's example spells it
  // "Docker-manifest-digest"; the containers/image spelling is lowercase. Either, but only one.
  const digestKeys = Object.keys(image);
  if (digestKeys.length !== 1 || digestKeys[0]?.toLowerCase() !== 'docker-manifest-digest') {
    return fail('critical.image must hold exactly "docker-manifest-digest"');
  }
  const manifestDigest = image[digestKeys[0]];
  if (typeof manifestDigest !== 'string' || !tryParseDigest(manifestDigest)) {
    return fail('critical.image.docker-manifest-digest is not a digest');
  }

  // cosign ignores the claimed identity (SIGNATURE_SPEC.md); it must still be well-formed.
  const identity = critical.identity;
  if (!isJsonObject(identity)) return fail('has no critical.identity object');
  const identityKeys = Object.keys(identity);
  const reference = identity['docker-reference'];
  if (identityKeys.some((key) => key !== 'docker-reference') || typeof reference !== 'string') {
    return fail('critical.identity must hold exactly a "docker-reference" string');
  }
  return { ok: true, manifestDigest, dockerReference: reference };
}

/** Undefined when the payload names `subjectDigest`, else why not. */
export function simpleSigningBindingProblem(bytes: Uint8Array, subjectDigest: string): string | undefined {
  const payload = readSimpleSigningPayload(bytes);
  if (!payload.ok) return payload.problem;
  if (payload.manifestDigest !== subjectDigest) {
    return `the payload signs ${payload.manifestDigest}, not this artifact (${subjectDigest})`;
  }
  return undefined;
}
