import { z } from 'zod';
import { named, UsernameParams } from './schemas.js';

/** Sessions (refresh tokens): answers and parameters (see schemas.ts for how they are used). */

export const Session = named(
  'Session',
  'A refresh token handed out (docker login, an OAuth2 client asking for offline access): a client signed in ' +
    'for the long run. Revoking it makes the refresh token useless on every node at once.',
  z.object({
    id: z.string().describe("the refresh token's jti"),
    subject: z.string(),
    clientId: z.string().nullable().describe('the OAuth2 client_id the client gave'),
    userAgent: z.string().nullable(),
    sourceIp: z.string().nullable(),
    issuedAt: z.number().int(),
    expiresAt: z.number().int(),
    lastUsedAt: z.number().int().nullable().describe('the last refresh with it, to the minute'),
  }),
);

export const SessionList = named(
  'SessionList',
  'One page of sessions, newest first; `next` is the cursor of the following page (also a Link header).',
  z.object({ items: z.array(Session), next: z.string().optional() }),
);

export const SignedOut = named(
  'SignedOut',
  'What signing out everywhere did: the sessions revoked; access tokens issued before are refused too.',
  z.object({
    revoked: z.number().int(),
    generation: z.number().int().describe('the session generation now; tokens of an older one are void'),
  }),
);

export const SessionParams = UsernameParams.extend({
  id: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, 'must be a session id'),
});
