import type { z } from 'zod';
import type { Identity } from '../auth/index.js';
import { RegistryError } from '../registry/index.js';
import { unauthorized } from './access.js';
import { ConsoleLoginBody, ConsoleSession, ConsoleSessionState } from './catalog-schemas.js';
import { type ApiRoute, route } from './route.js';

const tag = 'console';

function sessionAnswer(identity: Identity, csrfToken: string): z.output<typeof ConsoleSession> {
  if (identity.kind !== 'user') throw unauthorized('only users have console sessions');
  return { username: identity.username, systemAdmin: identity.systemAdmin === true, csrfToken };
}

/**
 * The web console's login: a password opens a session held in an HttpOnly cookie, which then authenticates
 * /api/v1 calls like Basic credentials do (see server/auth/console-sessions.ts for the cookie and CSRF rules).
 */
export const consoleSessionRoutes: ApiRoute[] = [
  route({
    method: 'POST',
    path: '/session',
    operationId: 'openConsoleSession',
    summary: 'Log in to the console: sets the HttpOnly session cookie',
    task: 'logging in to the console',
    tag,
    gate: 'none',
    access: 'users, with their password (failures are throttled and audited like any login)',
    body: ConsoleLoginBody,
    success: { status: 201, description: 'Logged in; the cookie is set', schema: ConsoleSession },
    errors: [401, 403, 429],
    async handler({ request, reply, body, options }) {
      const session = await options.consoleSessions.open(request, reply, body.username, body.password);
      return sessionAnswer(session.identity, session.csrfToken);
    },
  }),
  route({
    method: 'GET',
    path: '/session',
    operationId: 'getConsoleSession',
    summary: "The console session of the request's cookie, with its CSRF token",
    task: 'reading the console session',
    tag,
    gate: 'none',
    access: 'anyone: a page asks it on load, so not being logged in is an answer, not an error',
    success: { status: 200, description: 'The session, or null', schema: ConsoleSessionState },
    async handler({ request, options }) {
      const singleSignOn = options.oidc !== null;
      if (!options.consoleSessions.carriesCookie(request)) return { session: null, singleSignOn };
      try {
        const session = await options.consoleSessions.identify(request);
        return { session: sessionAnswer(session.identity, session.csrfToken), singleSignOn };
      } catch (error) {
        if (error instanceof RegistryError && error.code === 'UNAUTHORIZED')
          return { session: null, singleSignOn };
        throw error;
      }
    },
  }),
  route({
    method: 'DELETE',
    path: '/session',
    operationId: 'closeConsoleSession',
    summary: 'Log out of the console: the session ends on the server and the cookie is cleared',
    task: 'logging out of the console',
    tag,
    gate: 'none',
    access: 'anyone (without a session it only clears the cookie)',
    success: { status: 204, description: 'Logged out' },
    async handler({ request, reply, options }) {
      await options.consoleSessions.close(request, reply);
    },
  }),
];
