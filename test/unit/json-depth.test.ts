// Deeply nested JSON is refused before parsing: manifests (MANIFEST_INVALID) and /api/v1 bodies (INVALID_REQUEST).
import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, nestsDeeperThan, parseManifest, RegistryError } from '../../src/registry/index.js';

const nested = (depth: number, open = '[', close = ']') => `${open.repeat(depth)}${close.repeat(depth)}`;

describe('nestsDeeperThan', () => {
  it('counts objects and arrays, not brackets inside strings', () => {
    expect(nestsDeeperThan(nested(MAX_JSON_DEPTH))).toBe(false);
    expect(nestsDeeperThan(nested(MAX_JSON_DEPTH + 1))).toBe(true);
    expect(nestsDeeperThan(`{"a":${'{"b":'.repeat(10)}1${'}'.repeat(10)}}`, 11)).toBe(false);
    expect(nestsDeeperThan(`{"a":${'{"b":'.repeat(10)}1${'}'.repeat(10)}}`, 10)).toBe(true);
    expect(nestsDeeperThan(JSON.stringify({ s: '['.repeat(1000) }))).toBe(false);
    expect(nestsDeeperThan(JSON.stringify({ s: '\\"[[[' }), 1)).toBe(false);
  });

  it('lets a manifest nested 10,000 deep be refused as invalid, not crash', () => {
    const body = Buffer.from(
      `{"schemaVersion":2,"annotations":${nested(10_000, '{"a":', '}').replace(/\{"a":\}/, '{}')}}`,
    );
    let caught: unknown;
    try {
      parseManifest(body, 'application/vnd.oci.image.manifest.v1+json');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RegistryError);
    expect((caught as RegistryError).code).toBe('MANIFEST_INVALID');
    expect((caught as RegistryError).message).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
  });
});
