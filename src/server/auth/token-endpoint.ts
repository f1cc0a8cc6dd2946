import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Accounts } from '../../accounts/index.js';
import {
  type Access,
  AuthError,
  basicChallenge,
  formatScopes,
  grantAccess,
  type Identity,
  type ProjectPolicy,
  parseScopes,
  parseSecretToken,
  projectOf,
  type TokenService,
} from '../../auth/index.js';
import type { AuditSink } from '../../events/index.js';
import { RegistryError } from '../../registry/index.js';
import { type Credentials, readAuthorization, subjectOf } from './credentials.js';
import type { SessionGenerations } from './session-generations.js';

export interface TokenEndpointOptions {
  accounts: Accounts;
  tokens: TokenService;
  credentials: Credentials;
  generations: SessionGenerations;
  audit: AuditSink;
  service: string;
  sourceIp(request: FastifyRequest): string;
  /** Throws to refuse issuing to `subject` (the per-account token rate); '' is anonymous. */
  admit?(request: FastifyRequest, subject: string): void;
  /**
   * The proxy project's repository a pulled name stands for (replication/proxy MirrorNames), as /v2 maps it;
   * `ns` is containerd's, which the challenge's realm carries.
   */
  mirror?(name: string, ns: string | undefined): Promise<{ name: string } | undefined>;
}

const MAX_FORM_BYTES = 64 * 1024;

/** A user's login with a personal access token as the password (robots log in as robot$<name>). */
function isAccessTokenLogin(username: string, password: string): boolean {
  return !username.startsWith('robot$') && parseSecretToken(password) !== null;
}

async function createProject(accounts: Accounts, name: string): Promise<ProjectPolicy | undefined> {
  try {
    await accounts.createProject({ name, public: false });
  } catch (error) {
    if ((error as { code?: string }).code !== 'CONFLICT') throw error;
  }
  return accounts.projectPolicy(name);
}

function urlQuery(url: string): URLSearchParams {
  return new URLSearchParams(url.slice(url.indexOf('?') + 1 || url.length));
}

/** application/x-www-form-urlencoded bodies of the OAuth2 POST, read here (the server parses no bodies). */
async function readForm(request: FastifyRequest): Promise<URLSearchParams> {
  const type = request.headers['content-type'] ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded')) {
    throw new RegistryError('INVALID_REQUEST', {
      message: 'expected an application/x-www-form-urlencoded body',
    });
  }
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request.raw) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES)
      throw new RegistryError('INVALID_REQUEST', { status: 413, message: 'form too large' });
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/**
 * The Docker token endpoint (distribution docs: spec/auth/token.md, oauth.md): GET with Basic credentials
 * (or none, for anonymous pulls of public projects), or the OAuth2 POST with a password or refresh_token
 * grant. Grants are the intersection of what was asked and what the identity may do; asking for more is
 * never an error.
 */
export function tokenRoutes(app: FastifyInstance, options: TokenEndpointOptions): void {
  const issue = async (
    request: FastifyRequest,
    reply: FastifyReply,
    params: {
      identity: Identity;
      service: string | null;
      scopes: string[];
      /** A refresh token was asked for (not given to a personal access token's login: see below). */
      offline: boolean;
      viaAccessToken: boolean;
      oauth: boolean;
      /** The OAuth2 client_id, recorded with a new session. */
      clientId: string | null;
      /** The refresh token this request presented (grant_type=refresh_token): its session goes on. */
      refreshToken?: string;
      /** containerd's `ns=`, from the realm's query (see RegistryGuard.realmFor). */
      ns: string | undefined;
    },
  ) => {
    options.admit?.(request, subjectOf(params.identity));
    if (params.service !== null && params.service !== options.service) {
      throw new RegistryError('INVALID_REQUEST', {
        message: `this registry's service is ${JSON.stringify(options.service)}`,
        detail: { service: params.service },
      });
    }
    let requested: Access[];
    try {
      requested = parseScopes(params.scopes);
    } catch (error) {
      if (error instanceof AuthError) throw new RegistryError('INVALID_REQUEST', { message: error.message });
      throw error;
    }
    const asked = requested;
    // A pull-only scope of a name that falls to a proxy project is granted as that project's repository, the
    // name /v2 serves it as (RegistryGuard); the answer's `scope` names what was asked.
    const askedAs = new Map<string, string>();
    if (options.mirror) {
      const mirror = options.mirror;
      requested = await Promise.all(
        requested.map(async (entry) => {
          if (entry.type !== 'repository' || !entry.actions.every((action) => action === 'pull'))
            return entry;
          const mapped = await mirror(entry.name, params.ns);
          if (!mapped) return entry;
          askedAs.set(mapped.name, entry.name);
          return { ...entry, name: mapped.name };
        }),
      );
    }
    const policies = new Map<string, ProjectPolicy | undefined>();
    for (const entry of requested) {
      const project = projectOf(entry.name);
      if (entry.type === 'repository' && !policies.has(project)) {
        policies.set(project, await options.accounts.projectPolicy(project));
      }
    }
    const sourceIp = options.sourceIp(request);
    const access = grantAccess({
      identity: params.identity,
      requested,
      project: (name) => policies.get(name),
      sourceIp,
    });
    // Push granted into a project that does not exist yet (only whoever may push anywhere gets that): the
    // project is created now, private, as a push through Basic credentials would create it.
    for (const entry of access) {
      const project = projectOf(entry.name);
      if (
        entry.type === 'repository' &&
        entry.actions.includes('push') &&
        policies.get(project) === undefined
      ) {
        policies.set(project, await createProject(options.accounts, project));
      }
    }
    const subject = subjectOf(params.identity);
    const generation = await options.generations.current(subject);
    const issued = await options.tokens.issue({ subject, audience: options.service, access, generation });
    const body: Record<string, unknown> = { ...issued };
    // Not to a personal access token's login: the refresh token would outlive the token's revocation, and the
    // access token itself is already the long-lived credential for CI.
    if (params.offline && subject !== '' && !params.viaAccessToken) {
      if (params.refreshToken !== undefined) {
        // A refresh goes on with the same session rather than opening another one each time.
        body.refresh_token = params.refreshToken;
      } else {
        // Recorded before it is handed out: a refresh token without its row is refused, so each can be revoked.
        const jwtId = randomBytes(16).toString('base64url');
        await options.accounts.openSession({
          id: jwtId,
          subject,
          expiresAt: Date.now() + options.tokens.refreshExpiresInSeconds * 1000,
          ...(params.clientId && { clientId: params.clientId }),
          ...(request.headers['user-agent'] && { userAgent: request.headers['user-agent'] }),
          sourceIp,
        });
        body.refresh_token = await options.tokens.issueRefresh(subject, { audience: options.service, jwtId });
      }
    }
    if (params.oauth) {
      body.scope = formatScopes(
        access.map((entry) => {
          const name = entry.type === 'repository' ? askedAs.get(entry.name) : undefined;
          return name === undefined ? entry : { ...entry, name };
        }),
      );
    }
    options.audit.record({
      actor: subject || 'anonymous',
      actorKind: params.identity.kind,
      sourceIp,
      userAgent: request.headers['user-agent'],
      action: 'token',
      resource: formatScopes(asked) || '(none)',
      result: 'success',
      detail: formatScopes(access),
    });
    return reply.code(200).header('cache-control', 'no-store').type('application/json').send(body);
  };

  app.get('/token', async (request, reply) => {
    const query = urlQuery(request.url);
    const header = request.headers.authorization;
    let identity: Identity = { kind: 'anonymous' };
    let viaAccessToken = false;
    if (header) {
      const parsed = readAuthorization(header);
      if (parsed === 'malformed' || parsed?.scheme !== 'basic') {
        throw new RegistryError('UNAUTHORIZED', {
          message: 'the token endpoint takes Basic credentials',
          headers: { 'www-authenticate': basicChallenge(options.service) },
        });
      }
      identity = await options.credentials.login(request, parsed.username, parsed.password);
      viaAccessToken = isAccessTokenLogin(parsed.username, parsed.password);
    }
    return issue(request, reply, {
      identity,
      viaAccessToken,
      service: query.get('service'),
      scopes: query.getAll('scope'),
      offline: query.get('offline_token') === 'true',
      oauth: false,
      clientId: query.get('client_id'),
      ns: query.get('ns') ?? undefined,
    });
  });

  app.post('/token', async (request, reply) => {
    const form = await readForm(request);
    const grant = form.get('grant_type');
    let identity: Identity;
    let viaAccessToken = false;
    let refreshToken: string | undefined;
    if (grant === 'password') {
      const username = form.get('username') ?? '';
      const password = form.get('password') ?? '';
      identity = await options.credentials.login(request, username, password);
      viaAccessToken = isAccessTokenLogin(username, password);
    } else if (grant === 'refresh_token') {
      refreshToken = form.get('refresh_token') ?? '';
      let subject: string;
      let jwtId: string;
      try {
        ({ subject, jwtId } = await options.tokens.verifyRefresh(refreshToken, {
          audience: options.service,
        }));
      } catch (error) {
        if (error instanceof AuthError) throw new RegistryError('UNAUTHORIZED', { message: error.message });
        throw error;
      }
      // One indexed read per refresh, on whichever node: a revoked session is refused the moment it is gone.
      if (!(await options.accounts.useSession(jwtId, subject))) {
        throw new RegistryError('UNAUTHORIZED', {
          message: 'the refresh token was revoked, or its session ended: sign in again',
        });
      }
      const found = await options.accounts.identityOf(subject);
      if (!found) throw new RegistryError('UNAUTHORIZED', { message: 'the account is gone or disabled' });
      identity = found;
    } else {
      throw new RegistryError('INVALID_REQUEST', {
        message: 'grant_type must be password or refresh_token',
        detail: { grant_type: grant },
      });
    }
    return issue(request, reply, {
      identity,
      viaAccessToken,
      service: form.get('service'),
      scopes: form.getAll('scope'),
      offline: form.get('access_type') === 'offline',
      oauth: true,
      clientId: form.get('client_id'),
      ns: urlQuery(request.url).get('ns') ?? undefined,
      ...(refreshToken !== undefined && { refreshToken }),
    });
  });
}
