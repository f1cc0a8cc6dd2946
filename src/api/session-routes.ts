import { OWNERS, requireOwner } from './access.js';
import { linkNext, pageOf, pageRequest } from './pagination.js';
import { type ApiRoute, preamble, route } from './route.js';
import { PageQuery, UsernameParams } from './schemas.js';
import { SessionList, SessionParams, SignedOut } from './session-schemas.js';

const tag = 'sessions';
const FOR_OWNERS = preamble({ tag, gate: 'authenticated', access: OWNERS });
const ROBOTS_CANNOT = 'manage sessions';

/** Newest first: a key that sorts later issues first. */
const newestFirst = (session: { issuedAt: number; id: string }) =>
  `${String(Number.MAX_SAFE_INTEGER - session.issuedAt).padStart(16, '0')}:${session.id}`;

export const sessionRoutes: ApiRoute[] = [
  route({
    method: 'GET',
    path: '/users/{username}/sessions',
    operationId: 'listSessions',
    summary: "List a user's sessions (refresh tokens not yet revoked or expired), newest first",
    task: 'listing sessions',
    ...FOR_OWNERS,
    params: UsernameParams,
    query: PageQuery,
    success: { status: 200, description: 'One page of sessions', schema: SessionList },
    errors: [404],
    async handler({ identity, params, query, options, request, reply }) {
      requireOwner(identity, params.username, 'listing sessions', ROBOTS_CANNOT);
      const sessions = await options.accounts.listSessions(params.username);
      const page = pageOf(sessions, newestFirst, pageRequest(query));
      linkNext(request, reply, page.next);
      return page;
    },
  }),
  route({
    method: 'DELETE',
    path: '/users/{username}/sessions/{id}',
    operationId: 'revokeSession',
    summary: 'Revoke one session: its refresh token is refused from now on, on every node',
    task: 'revoking a session',
    ...FOR_OWNERS,
    params: SessionParams,
    success: { status: 204, description: 'Revoked' },
    errors: [404],
    audit: { action: 'session.revoke', resource: (params) => `user:${params.username ?? '?'}` },
    async handler(call) {
      const { identity, params, options } = call;
      requireOwner(identity, params.username, 'revoking sessions', ROBOTS_CANNOT);
      call.auditDetail = { id: params.id };
      await options.accounts.revokeSession(params.username, params.id);
    },
  }),
  route({
    method: 'DELETE',
    path: '/users/{username}/sessions',
    operationId: 'signOutEverywhere',
    summary:
      'Sign out everywhere: revoke every session of the user, and void the access tokens issued to them so far',
    task: 'signing out everywhere',
    ...FOR_OWNERS,
    params: UsernameParams,
    success: { status: 200, description: 'What was revoked', schema: SignedOut },
    errors: [404],
    audit: { action: 'session.revokeAll', resource: (params) => `user:${params.username ?? '?'}` },
    async handler(call) {
      const { identity, params, options } = call;
      requireOwner(identity, params.username, 'signing out everywhere', ROBOTS_CANNOT);
      const result = await options.accounts.signOutEverywhere(params.username);
      call.auditDetail = result;
      return result;
    },
  }),
];
