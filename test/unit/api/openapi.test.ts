// The OpenAPI document is served publicly, lists exactly the routes the plugin registers, and is built from
// the zod schemas the handlers validate with.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './api-harness.js';

type Json = Record<string, unknown>;
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

function refs(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) refs(item, found);
  else if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === '$ref' && typeof inner === 'string') found.push(inner);
      else refs(inner, found);
    }
  }
  return found;
}

describe('/api/v1/openapi.json', () => {
  let h: Harness;
  let doc: Json;
  let paths: Record<string, Record<string, Json>>;
  beforeAll(async () => {
    h = await startHarness();
    const response = await h.request('anonymous', 'GET', '/api/v1/openapi.json');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    doc = JSON.parse(response.body) as Json;
    paths = doc.paths as typeof paths;
  });
  afterAll(() => h.close());

  it('is an OpenAPI 3.1 document', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
  });

  it('lists exactly the routes the plugin registers', () => {
    const documented = Object.entries(paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((key) => METHODS.includes(key))
        .map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual([...h.routes].sort());
    expect(h.routes).toHaveLength(111);
  });

  it('resolves every $ref to a component schema', () => {
    const schemas = (doc.components as { schemas: Json }).schemas;
    const all = refs(doc);
    expect(all.length).toBeGreaterThan(20);
    for (const ref of all) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(schemas[ref.slice('#/components/schemas/'.length)], ref).toBeDefined();
    }
  });

  it('gives each operation a unique id, its path parameters, and its error answers', () => {
    const ids = new Set<string>();
    for (const [path, item] of Object.entries(paths)) {
      const placeholders = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const [method, operation] of Object.entries(item)) {
        const op = operation as {
          operationId: string;
          parameters?: { name: string; in: string; required: boolean }[];
          responses: Record<string, Json>;
          security?: unknown[];
        };
        expect(ids.has(op.operationId)).toBe(false);
        ids.add(op.operationId);
        const inPath = (op.parameters ?? []).filter((p) => p.in === 'path');
        expect(inPath.map((p) => p.name).sort(), `${method} ${path}`).toEqual([...placeholders].sort());
        expect(inPath.every((p) => p.required)).toBe(true);
        // Routes that look at no credentials (the document itself, the single sign-on redirects) answer no 401.
        if (op.security === undefined || op.security.length > 0) {
          expect(op.responses['401'], `${method} ${path}`).toBeDefined();
        }
        if (placeholders.length > 0) expect(op.responses['400']).toBeDefined();
      }
    }
    expect(paths['/api/v1/openapi.json']?.get?.security).toEqual([]);
    expect(paths['/api/v1/users']?.post?.responses).toHaveProperty('403');
    expect(paths['/api/v1/users']?.post?.responses).toHaveProperty('409');
  });

  it('describes bodies and answers from the same zod schemas', () => {
    const schemas = (doc.components as { schemas: Record<string, Json> }).schemas;
    expect(schemas.CreateUser).toMatchObject({
      type: 'object',
      required: ['username', 'password'],
      additionalProperties: false,
      properties: { password: { type: 'string', minLength: 8 } },
    });
    expect(schemas.User?.required).toEqual(
      expect.arrayContaining(['username', 'systemAdmin', 'disabled', 'email', 'source']),
    );
    const create = paths['/api/v1/robots']?.post as { requestBody: Json; responses: Record<string, Json> };
    expect(create.requestBody).toEqual({
      required: true,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/CreateRobot' } } },
    });
    expect(create.responses['201']).toMatchObject({
      content: { 'application/json': { schema: { $ref: '#/components/schemas/CreatedRobot' } } },
    });
    const audit = paths['/api/v1/audit']?.get as { parameters: { name: string; required: boolean }[] };
    expect(audit.parameters.map((p) => p.name)).toEqual(
      expect.arrayContaining([
        'actor',
        'action',
        'resource',
        'project',
        'from',
        'to',
        'before',
        'limit',
        'cursor',
      ]),
    );
    expect(audit.parameters.every((p) => !p.required)).toBe(true);
    const exported = paths['/api/v1/audit/export']?.get as { responses: Record<string, Json> };
    expect(exported.responses['200']).toHaveProperty(['content', 'application/x-ndjson']);
  });
});
