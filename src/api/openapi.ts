import { z } from 'zod';
import type { ApiRoute } from './route.js';
import { components } from './schemas.js';

type Json = Record<string, unknown>;

const REF = (id: string) => `#/components/schemas/${id}`;

/** JSON Schema (2020-12, the dialect of OpenAPI 3.1) of what a client sends or receives. */
function jsonSchema(schema: z.ZodType): Json {
  const id = components.get(schema)?.id;
  if (id !== undefined) return { $ref: REF(id) };
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;
  return rest;
}

function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): Json[] {
  if (!(schema instanceof z.ZodObject)) return [];
  return Object.entries(schema.shape as Record<string, z.ZodType>).map(([name, property]) => {
    const { description, ...rest } = jsonSchema(property);
    return {
      name,
      in: where,
      required: where === 'path' || !property.safeParse(undefined).success,
      ...(description !== undefined && { description }),
      schema: rest,
    };
  });
}

const errorContent = { 'application/json': { schema: { $ref: REF('Error') } } };

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'The path, query or body is invalid (INVALID_REQUEST; `detail.issues` lists each problem)',
  401: 'No credentials, or wrong ones (UNAUTHORIZED, with a Basic challenge)',
  404: 'What the path or body names does not exist (NOT_FOUND)',
  409: 'It exists already, or the change would break an invariant (CONFLICT)',
  413: 'The body is over 1 MiB (SIZE_INVALID)',
  415: 'The body is not application/json (UNSUPPORTED)',
  429: 'Too many failed logins from this address or for this account (TOOMANYREQUESTS, with Retry-After)',
};

function errorResponse(status: number, route: ApiRoute): Json {
  const description =
    status === 403
      ? `Logged in without the right (DENIED): ${route.access}`
      : (ERROR_DESCRIPTIONS[status] ?? 'An error');
  return {
    description,
    content: errorContent,
    ...(status === 401 && {
      headers: { 'WWW-Authenticate': { schema: { type: 'string' }, description: 'Basic realm="berth"' } },
    }),
  };
}

function errorStatuses(route: ApiRoute): number[] {
  const statuses = new Set<number>(route.errors ?? []);
  if (route.gate !== 'none') {
    // Wrong credentials are refused everywhere, and repeated failures are throttled.
    statuses.add(401);
    statuses.add(429);
  }
  if (route.gate === 'authenticated' || route.gate === 'systemAdmin') statuses.add(403);
  if (route.params || route.query || route.body || route.rawBody) statuses.add(400);
  if (route.body || route.rawBody) {
    statuses.add(413);
    statuses.add(415);
  }
  return [...statuses].sort((a, b) => a - b);
}

function operation(route: ApiRoute): Json {
  const success: Json = { description: route.success.description };
  if (route.success.schema) {
    success.content = { 'application/json': { schema: jsonSchema(route.success.schema) } };
  } else if (route.success.contentType) {
    success.content = { [route.success.contentType]: { schema: { type: 'string' } } };
  }
  const responses: Json = { [route.success.status]: success };
  for (const status of errorStatuses(route)) responses[status] = errorResponse(status, route);
  const params = [...parameters(route.params, 'path'), ...parameters(route.query, 'query')];
  return {
    operationId: route.operationId,
    summary: route.summary,
    description: `Who may call it: ${route.access}.`,
    tags: [route.tag],
    ...(route.gate === 'none' && { security: [] }),
    // Public routes answer anonymous callers too; credentials, when sent, widen what they see.
    ...(route.gate === 'public' && { security: [{}, { basic: [] }, { bearer: [] }] }),
    ...(params.length > 0 && { parameters: params }),
    ...(route.body && {
      requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(route.body) } } },
    }),
    ...(route.rawBody && {
      requestBody: {
        required: true,
        description: route.rawBody.description,
        content: Object.fromEntries(
          route.rawBody.mediaTypes.map((type) => [type, { schema: { type: 'object' } }]),
        ),
      },
    }),
    responses,
  };
}

/** The OpenAPI 3.1 document of the routes, built from the same zod schemas the handlers validate with. */
export function buildOpenApiDocument(routes: readonly ApiRoute[], prefix: string): Json {
  const { schemas } = z.toJSONSchema(components, { uri: REF, io: 'input', unrepresentable: 'any' }) as {
    schemas: Record<string, Json>;
  };
  for (const schema of Object.values(schemas)) {
    delete schema.$schema;
    delete schema.$id;
  }
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const path = `${prefix}${route.path}`;
    paths[path] ??= {};
    (paths[path] as Json)[route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Berth management API',
      version: '1',
      description:
        'Users, projects, members, robot accounts, personal access tokens, tag immutability rules, storage quotas ' +
        'and usage, signature trust and policies, and the audit log of a Berth registry. ' +
        'Errors have the /v2 shape `{"errors":[{code,message,detail}]}`. Lists take `limit` (default 100, at ' +
        'most 1000) and `cursor`, answer `{items, next?}` and send `Link: <…>; rel="next"` when more follow.',
    },
    security: [{ basic: [] }, { bearer: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: {
        basic: {
          type: 'http',
          scheme: 'basic',
          description: 'A username and password or personal access token; `robot$<name>` and its secret',
        },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A token from /token' },
      },
    },
  };
}
