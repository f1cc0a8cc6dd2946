import { describe, expect, it } from 'vitest';
import { negotiate } from '../../src/registry/manifest-negotiation.js';
import { MediaType } from '../../src/registry/media-types.js';

const M = MediaType.OciManifest;
const I = MediaType.OciIndex;
const D = MediaType.DockerManifest;
const L = MediaType.DockerManifestList;

type Outcome = ReturnType<typeof negotiate>;

describe('negotiate', () => {
  describe.each<[string, string, string | undefined, Outcome]>([
    // No preference: the stored bytes.
    ['no Accept, OCI manifest', M, undefined, 'serve'],
    ['no Accept, OCI index', I, undefined, 'serve'],
    ['empty Accept, Docker list', L, '', 'serve'],
    ['only separators', I, ' , ,', 'serve'],
    // Wildcards.
    ['*/* for an index', I, '*/*', 'serve'],
    ['*/* for a Docker manifest', D, '*/*', 'serve'],
    ['application/* for a list', L, 'application/*', 'serve'],
    ['*/* with a q-value', I, '*/*;q=0.1', 'serve'],
    // Exact matches.
    ['exact OCI manifest', M, M, 'serve'],
    ['exact OCI index', I, I, 'serve'],
    ['exact Docker manifest', D, D, 'serve'],
    ['exact Docker list', L, L, 'serve'],
    ['exact match among several', I, `${D}, ${L}, ${M}, ${I}`, 'serve'],
    ['exact match with parameters', M, `${M}; q=0.9; charset=utf-8`, 'serve'],
    ['exact match in upper case', M, M.toUpperCase(), 'serve'],
    ['exact match with q=1', I, `${I};q=1`, 'serve'],
    ['exact match with a tiny non-zero q', I, `${I};q=0.001`, 'serve'],
    // Single manifests for clients that name nothing manifest-specific.
    ['application/json for a manifest', M, 'application/json', 'serve'],
    ['unrelated type for a Docker manifest', D, 'text/plain', 'serve'],
    // Clients that name manifest types but not the stored one.
    ['Docker-only client, OCI manifest', M, D, 'reject'],
    ['OCI-only client, Docker manifest', D, M, 'reject'],
    ['index-only client, OCI manifest', M, I, 'reject'],
    ['list-only client, Docker manifest', D, L, 'reject'],
    // Old Docker clients asking for image manifests only get the platform image of a list.
    ['old Docker client, OCI index', I, D, 'platform'],
    ['old Docker client, Docker list', L, D, 'platform'],
    ['old Docker client with both image types, OCI index', I, `${D}, ${M}`, 'platform'],
    ['OCI image-only client, Docker list', L, M, 'platform'],
    ['image types plus application/json, OCI index', I, `${D}, application/json`, 'platform'],
    // Lists nobody asked for.
    ['other list type only, OCI index', I, L, 'reject'],
    ['other list type only, Docker list', L, I, 'reject'],
    ['application/json for an index', I, 'application/json', 'reject'],
    ['unrelated type for a list', L, 'text/html', 'reject'],
  ])('%s', (_label, stored, accept, expected) => {
    it(`${stored} with Accept ${JSON.stringify(accept)} → ${expected}`, () => {
      expect(negotiate(stored, accept)).toBe(expected);
    });
  });

  // RFC 9110 §12.4.2: a weight of 0 means "not acceptable".
  describe.each<[string, string, string, Outcome]>([
    ['excluded stored manifest, other image type named', M, `${M};q=0, ${D}`, 'reject'],
    ['q=0.0 excludes too', M, `${M};q=0.0, ${D}`, 'reject'],
    ['q=0.000 with spaces excludes too', M, `${M} ; q=0.000 , ${D}`, 'reject'],
    ['excluded index, image type named', I, `${I};q=0, ${M}`, 'platform'],
    ['excluded list and index, image type named', L, `${L};q=0, ${I};q=0, ${D}`, 'platform'],
    ['excluded wildcard, stored type named', M, `*/*;q=0, ${M}`, 'serve'],
    ['q=0.5 does not exclude', M, `${M};q=0.5`, 'serve'],
    // Every listed type excluded: nothing is acceptable, so nothing may be served.
    ['only the stored manifest, excluded', M, `${M};q=0`, 'reject'],
    ['only the stored index, excluded', I, `${I};q=0`, 'reject'],
    ['only a wildcard, excluded', M, '*/*;q=0', 'reject'],
    // A specific type overrides a wildcard (RFC 9110 §12.5.1): the stored type is still excluded.
    ['wildcard plus excluded stored manifest', M, `*/*, ${M};q=0`, 'reject'],
  ])('q=0: %s', (_label, stored, accept, expected) => {
    it(`${stored} with Accept ${JSON.stringify(accept)} → ${expected}`, () => {
      expect(negotiate(stored, accept)).toBe(expected);
    });
  });
});
