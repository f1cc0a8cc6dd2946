// The console's API types (web/src/api/schema.d.ts) are generated from the OpenAPI document of /api/v1: when a
// route or schema changes without `npm run web:types`, the console would compile against an API that is gone.
import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { SCHEMA_TYPES, schemaTypes } from '../../../scripts/web-types.js';

it('web/src/api/schema.d.ts matches the OpenAPI document (run `npm run web:types` when this fails)', async () => {
  const checkedIn = await readFile(SCHEMA_TYPES, 'utf8');
  const generated = await schemaTypes();
  expect(checkedIn === generated, 'schema.d.ts has drifted from the API: run `npm run web:types`').toBe(true);
  expect(generated).toContain('"/api/v1/projects/{name}/repositories"');
});
