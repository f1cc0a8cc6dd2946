import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Identity } from '../auth/index.js';
import { MAX_JSON_DEPTH, nestsDeeperThan, RegistryError } from '../registry/index.js';
import { loginOf, requireAuthenticated, requireProject, requireSystemAdmin } from './access.js';
import { invalidRequest, toApiError } from './api-errors.js';
import { buildOpenApiDocument } from './openapi.js';
import type { ApiOptions } from './options.js';
import { type ApiRoute, type Call, route } from './route.js';
import { apiRouteTable } from './routes.js';

/** Where the management API lives. The plugin registers its routes under it itself: register it without a prefix. */
export const API_PREFIX = '/api/v1';
/** Management requests are small JSON documents. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** A request body as received, not yet parsed. */
class JsonText {
  constructor(readonly text: string) {}
}

function parseBody(body: unknown): unknown {
  if (!(body instanceof JsonText)) return body;
  if (body.text.trim() === '') return undefined;
  if (nestsDeeperThan(body.text)) {
    throw new RegistryError('INVALID_REQUEST', {
      message: `the body nests JSON deeper than ${MAX_JSON_DEPTH} levels`,
    });
  }
  try {
    return JSON.parse(body.text);
  } catch (error) {
    throw new RegistryError('INVALID_REQUEST', {
      message: `the body is not valid JSON: ${(error as Error).message}`,
    });
  }
}

/** The text of a body as received, for routes that verify it themselves (ApiRoute.rawBody). */
function rawText(body: unknown): string {
  return body instanceof JsonText ? body.text : '';
}

function fastifyPath(path: string): string {
  return API_PREFIX + path.replace(/\{(\w+)\}/g, ':$1');
}

function parsePart<T>(
  schema: ApiRoute['params'] | ApiRoute['query'] | ApiRoute['body'] | undefined,
  where: 'path' | 'query' | 'body',
  value: unknown,
): T {
  if (!schema) return undefined as T;
  const result = schema.safeParse(value);
  if (!result.success) throw invalidRequest(where, result.error);
  return result.data as T;
}

function actorKind(identity: Identity | undefined): 'user' | 'robot' | 'anonymous' {
  return identity?.kind ?? 'anonymous';
}

function auditDetail(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * The management REST API (/api/v1) and its OpenAPI document, as one encapsulated Fastify plugin. Bodies are
 * JSON, read here (the server streams other bodies to /v2 untouched); errors are RegistryErrors rendered by
 * the server's error handler as `{"errors":[…]}`; every mutation is audited, refused ones included.
 */
export async function apiRoutes(app: FastifyInstance, options: ApiOptions): Promise<void> {
  const resolved: Required<ApiOptions> = {
    usersCanCreateProjects: false,
    oidc: null,
    proxies: null,
    health: null,
    ...options,
  };
  const openApi = route({
    method: 'GET',
    path: '/openapi.json',
    operationId: 'getOpenApiDocument',
    summary: 'This document',
    task: 'reading the API description',
    tag: 'meta',
    gate: 'none',
    access: 'anyone',
    success: {
      status: 200,
      description: 'An OpenAPI 3.1 document',
      schema: z.record(z.string(), z.unknown()),
    },
    handler: async () => document,
  });
  const routes = [openApi, ...apiRouteTable()];
  const document = buildOpenApiDocument(routes, API_PREFIX);

  // Encapsulated: these parsers apply to this plugin's routes only. Anything but JSON is refused with 415, and
  // more than MAX_BODY_BYTES with 413, while reading. The text is parsed in the handler, after authentication,
  // so that a stranger learns nothing from it and a broken body is audited like any other refusal.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    [
      'application/json',
      // Webhooks and notifications from other registries (POST /replication/policies/{id}/events).
      'application/cloudevents+json',
      'application/cloudevents-batch+json',
      'application/vnd.docker.distribution.events.v1+json',
    ],
    { parseAs: 'string', bodyLimit: MAX_BODY_BYTES },
    (_request, text, done) => done(null, new JsonText(text as string)),
  );
  // OSV records for the vulnerability database (PUT /scanner/database): streamed by the handler, unbuffered.
  app.addContentTypeParser(['application/x-ndjson', 'application/zip'], (_request, payload, done) =>
    done(null, payload),
  );

  for (const definition of routes) {
    if (definition.project && !definition.path.startsWith('/projects/{name}')) {
      throw new Error(`${definition.operationId}: a project check needs /projects/{name} in its path`);
    }
    app.route({
      method: definition.method,
      url: fastifyPath(definition.path),
      handler: (request, reply) => handle(definition, resolved, request, reply),
    });
  }
}

async function handle(
  definition: ApiRoute,
  options: Required<ApiOptions>,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<unknown> {
  let identity: Identity | undefined;
  let body: unknown;
  try {
    identity = definition.gate === 'none' ? { kind: 'anonymous' } : await options.authenticate(request);
    if (definition.gate === 'authenticated') requireAuthenticated(identity);
    if (definition.gate === 'systemAdmin') requireSystemAdmin(identity, definition.task);
    body = definition.rawBody ? rawText(request.body) : parseBody(request.body);
    const call: Call<unknown, unknown, unknown> = {
      request,
      reply,
      identity,
      options,
      params: parsePart(definition.params, 'path', request.params),
      query: parsePart(definition.query, 'query', request.query),
      body: definition.rawBody ? body : parsePart(definition.body, 'body', body),
    };
    if (definition.project) await requireProject(call, definition.project, definition.task);
    const result = await definition.handler(call);
    record(definition, options, request, identity, body, 'success', auditDetail(call.auditDetail));
    reply.code(definition.success.status);
    if (definition.success.status === 204) return reply.send();
    return result;
  } catch (error) {
    const apiError = toApiError(error);
    const message = apiError instanceof Error ? apiError.message : String(apiError);
    record(definition, options, request, identity, body, 'failure', message);
    throw apiError;
  }
}

function record(
  definition: ApiRoute,
  options: Required<ApiOptions>,
  request: FastifyRequest,
  identity: Identity | undefined,
  body: unknown,
  result: 'success' | 'failure',
  detail: string | undefined,
): void {
  if (!definition.audit) return;
  const agent = request.headers['user-agent'];
  options.audit.record({
    actor: identity ? loginOf(identity) : 'anonymous',
    actorKind: actorKind(identity),
    sourceIp: options.sourceIp(request),
    userAgent: typeof agent === 'string' ? agent : undefined,
    action: definition.audit.action,
    resource: definition.audit.resource(request.params as Record<string, string>, body),
    result,
    detail,
  });
}
