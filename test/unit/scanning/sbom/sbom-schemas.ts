// The official JSON schemas the SBOM writers are checked against: SPDX 2.3 (spdx-spec, checked in under
// test/fixtures/scanning/data) and CycloneDX 1.5 (as @cyclonedx/cyclonedx-library ships it).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS: its default export arrives wrapped under NodeNext typing.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const cdxSchemas = join(
  dirname(require.resolve('@cyclonedx/cyclonedx-library/package.json')),
  'res',
  'schema',
);

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

export const SPDX_SCHEMA_PATH = join(
  here,
  '..',
  '..',
  '..',
  'fixtures',
  'scanning',
  'data',
  'spdx-schema.json',
);

/** The SPDX License List as the CycloneDX schema enumerates it. */
export function cycloneDxSpdxIds(): { version: string; ids: string[] } {
  const schema = readJson(join(cdxSchemas, 'spdx.SNAPSHOT.schema.json')) as {
    $comment: string;
    enum: string[];
  };
  return { version: schema.$comment.replace(/^v[^-]*-/, ''), ids: schema.enum };
}

export type Validate = (document: unknown) => string[];

function describe(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map(
    (error) =>
      `${error.instancePath || '/'} ${error.message ?? ''} ${JSON.stringify(error.params).slice(0, 200)}`,
  );
}

export function spdxValidator(): Validate {
  const ajv = new Ajv2019({ allErrors: true, strict: false });
  addFormats(ajv);
  const validate = ajv.compile(readJson(SPDX_SCHEMA_PATH));
  return (document) => (validate(document) ? [] : describe(validate.errors));
}

export function cycloneDxValidator(): Validate {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  // The bom schema refers to its neighbours by their SNAPSHOT file names, resolved against its own $id.
  for (const name of ['spdx.SNAPSHOT.schema.json', 'jsf-0.82.SNAPSHOT.schema.json']) {
    ajv.addSchema({ ...readJson(join(cdxSchemas, name)), $id: `http://cyclonedx.org/schema/${name}` });
  }
  const validate = ajv.compile(readJson(join(cdxSchemas, 'bom-1.5.SNAPSHOT.schema.json')));
  return (document) => (validate(document) ? [] : describe(validate.errors));
}
