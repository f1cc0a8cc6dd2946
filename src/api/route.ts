import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { Action, Identity } from '../auth/index.js';
import type { ApiOptions } from './options.js';

/** The audit actions the management API records, one per kind of change. */
export type AuditAction =
  | 'user.create'
  | 'user.update'
  | 'user.password'
  | 'user.delete'
  | 'project.create'
  | 'project.update'
  | 'project.delete'
  | 'member.set'
  | 'member.remove'
  | 'robot.create'
  | 'robot.update'
  | 'robot.delete'
  | 'robot.secret'
  | 'token.create'
  | 'token.revoke'
  | 'session.revoke'
  | 'session.revokeAll'
  | 'cliSecret.create'
  | 'cliSecret.revoke'
  | 'quota.set'
  | 'immutability.add'
  | 'immutability.remove'
  | 'retention.set'
  | 'retention.run'
  | 'gc.run'
  | 'scrub.run'
  | 'scrub.release'
  | 'webhook.create'
  | 'webhook.update'
  | 'webhook.delete'
  | 'webhook.redeliver'
  | 'replication.registry.create'
  | 'replication.registry.update'
  | 'replication.registry.delete'
  | 'replication.policy.create'
  | 'replication.policy.update'
  | 'replication.policy.delete'
  | 'replication.run'
  | 'replication.retry'
  | 'replication.events'
  | 'trust.key.add'
  | 'trust.key.remove'
  | 'trust.notation.add'
  | 'trust.notation.remove'
  | 'signatures.policy'
  | 'scanning.settings'
  | 'scanning.scan'
  | 'scanning.database'
  | 'scanning.rescan';

/** What a route's caller needs in the project of its path: a role in it, or one action. */
export type ProjectNeed = 'member' | Action;

/**
 * Who may call a route at all; handlers check the finer rules (project roles, ownership). `none` does not even
 * look at credentials; `public` answers anonymous callers but refuses wrong credentials.
 */
export type Gate = 'none' | 'public' | 'authenticated' | 'systemAdmin';

export interface Call<P, Q, B> {
  request: FastifyRequest;
  reply: FastifyReply;
  identity: Identity;
  params: P;
  query: Q;
  body: B;
  options: Required<ApiOptions>;
  /** What the audit event's detail says on success (JSON-encoded); handlers fill it in. */
  auditDetail?: unknown;
}

export interface SuccessAnswer {
  status: number;
  description: string;
  /** The JSON body; absent for 204. */
  schema?: z.ZodType;
  /** Another media type than application/json (the body is then described, not schema'd). */
  contentType?: string;
}

export interface ApiRoute<P = unknown, Q = unknown, B = unknown> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** OpenAPI style, under /api/v1: `/users/{username}`. */
  path: string;
  operationId: string;
  summary: string;
  /** What the caller tried, for refusals: `creating a user` → "creating a user needs system administrator rights". */
  task: string;
  tag: string;
  gate: Gate;
  /** Who may call it, in words, for the document. */
  access: string;
  /**
   * What the caller needs in the project `{name}` of the path, checked before the handler runs (after the gate
   * and validation) and refused naming `task`: `member` (requireMember: a role in it, even when it is public)
   * or an action (requireProjectAction). Handlers that want the project's policy, or check later, check it
   * themselves.
   */
  project?: ProjectNeed;
  params?: z.ZodType<P, Record<string, string>>;
  query?: z.ZodType<Q, Record<string, unknown>>;
  body?: z.ZodType<B, unknown>;
  /**
   * Instead of `body`: the body's text as received (`call.body`), neither parsed nor validated here, for a handler
   * that must check a signature over the exact bytes before it reads them. Documented with these media types.
   */
  rawBody?: { mediaTypes: readonly string[]; description: string };
  /**
   * The success answer: the plugin sends its status (handlers need not set it); the error answers are added
   * from `gate` and `errors`.
   */
  success: SuccessAnswer;
  /** Error statuses this route may answer with besides the gate's (400 on validation, 401, 403). */
  errors?: readonly number[];
  /** Mutations: the action recorded, and the resource from the raw (unvalidated) params and body. */
  audit?: { action: AuditAction; resource(params: Record<string, string>, body: unknown): string };
  handler(call: Call<P, Q, B>): Promise<unknown>;
}

/**
 * What a group of routes shares (its tag, gate and who may call, and maybe the task and what the caller needs in
 * the project): spread into each route.
 */
export function preamble<
  T extends Pick<ApiRoute, 'tag' | 'gate' | 'access'> & { task?: string; project?: ProjectNeed },
>(shared: T): T {
  return shared;
}

/**
 * Keeps each route's parameter types checked against its handler (inferred from its params, query and body
 * schemas), then erases them for the table.
 */
export function route<P = undefined, Q = undefined, B = undefined>(definition: ApiRoute<P, Q, B>): ApiRoute {
  return definition as unknown as ApiRoute;
}

/** A string field of an unvalidated body, for audit resources; `?` when absent. */
export function field(body: unknown, name: string): string {
  const value =
    body !== null && typeof body === 'object' ? (body as Record<string, unknown>)[name] : undefined;
  return typeof value === 'string' ? value : '?';
}
