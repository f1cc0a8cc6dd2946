import { OWNERS, requireOwner } from './access.js';
import { linkNext, pageOf, pageRequest } from './pagination.js';
import { checkExpiry } from './robot-routes.js';
import { type ApiRoute, preamble, route } from './route.js';
import {
  AccessTokenList,
  CreateAccessTokenBody,
  CreatedAccessToken,
  PageQuery,
  TokenParams,
  UsernameParams,
} from './schemas.js';

const tag = 'tokens';
const FOR_OWNERS = preamble({ tag, gate: 'authenticated', access: OWNERS });
const ROBOTS_CANNOT = 'use personal access tokens';

export const tokenRoutes: ApiRoute[] = [
  route({
    method: 'POST',
    path: '/users/{username}/tokens',
    operationId: 'createAccessToken',
    summary: "Create a personal access token, used as the user's password; its secret is in the answer only",
    task: 'creating a personal access token',
    ...FOR_OWNERS,
    params: UsernameParams,
    body: CreateAccessTokenBody,
    success: { status: 201, description: 'The token and its secret', schema: CreatedAccessToken },
    errors: [404],
    audit: { action: 'token.create', resource: (params) => `user:${params.username ?? '?'}` },
    async handler(call) {
      const { identity, params, body, options } = call;
      requireOwner(identity, params.username, 'creating personal access tokens', ROBOTS_CANNOT);
      checkExpiry(body.expiresAt);
      const created = await options.accounts.createAccessToken({
        username: params.username,
        name: body.name,
        permissions: body.permissions ?? null,
        expiresAt: body.expiresAt ?? null,
      });
      const { token } = created;
      call.auditDetail = {
        id: token.id,
        name: token.name,
        permissions: token.permissions,
        expiresAt: token.expiresAt,
      };
      return created;
    },
  }),
  route({
    method: 'GET',
    path: '/users/{username}/tokens',
    operationId: 'listAccessTokens',
    summary: "List a user's personal access tokens (never their secrets)",
    task: 'listing personal access tokens',
    ...FOR_OWNERS,
    params: UsernameParams,
    query: PageQuery,
    success: { status: 200, description: 'One page of tokens, by id', schema: AccessTokenList },
    errors: [404],
    async handler({ identity, params, query, options, request, reply }) {
      requireOwner(identity, params.username, 'listing personal access tokens', ROBOTS_CANNOT);
      const tokens = await options.accounts.listAccessTokens(params.username);
      const page = pageOf(tokens, (token) => token.id, pageRequest(query));
      linkNext(request, reply, page.next);
      return page;
    },
  }),
  route({
    method: 'DELETE',
    path: '/users/{username}/tokens/{id}',
    operationId: 'revokeAccessToken',
    summary: 'Revoke a personal access token',
    task: 'revoking a personal access token',
    ...FOR_OWNERS,
    params: TokenParams,
    success: { status: 204, description: 'Revoked' },
    errors: [404],
    audit: { action: 'token.revoke', resource: (params) => `user:${params.username ?? '?'}` },
    async handler(call) {
      const { identity, params, options } = call;
      requireOwner(identity, params.username, 'revoking personal access tokens', ROBOTS_CANNOT);
      call.auditDetail = { id: params.id };
      await options.accounts.revokeAccessToken(params.username, params.id);
    },
  }),
];
