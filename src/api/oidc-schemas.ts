import { z } from 'zod';
import { named } from './schemas.js';

/** Single sign-on (OIDC) and CLI secrets: answers and parameters (see schemas.ts for how they are used). */

export const OidcLoginQuery = z.object({
  next: z
    .string()
    .max(2048)
    .optional()
    .describe('a path on this site to go to once signed in (anything else goes to /)'),
});

/** What an OpenID Provider sends back (RFC 6749 4.1.2, OpenID Connect Core 3.1.2.5); the values are checked there. */
export const OidcCallbackQuery = z.object({
  code: z.string().max(4096).optional(),
  state: z.string().max(512).optional(),
  iss: z.string().max(2048).optional(),
  error: z.string().max(256).optional(),
  error_description: z.string().max(2048).optional(),
  session_state: z.string().max(1024).optional(),
});

export const CliSecretInfo = named(
  'CliSecretInfo',
  "An OIDC user's CLI secret, without the secret: when it was made and last used (to the minute).",
  z.object({ createdAt: z.number().int(), lastUsedAt: z.number().int().nullable() }),
);

export const NewCliSecret = named(
  'NewCliSecret',
  'A new CLI secret, shown this once (Berth keeps only a hash): the password for docker login, skopeo --creds ' +
    'and the token endpoint. It replaces the previous one.',
  z.object({ secret: z.string(), createdAt: z.number().int() }),
);
