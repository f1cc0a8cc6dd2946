import type { FastifyRequest } from 'fastify';
import type { Accounts } from '../../accounts/index.js';
import {
  type Access,
  authorize,
  basicChallenge,
  bearerChallenge,
  type Decision,
  grants,
  type Identity,
  type ProjectPolicy,
  projectOf,
} from '../../auth/index.js';
import type { Caller, Need } from '../../distribution/index.js';
import { RegistryError } from '../../registry/index.js';
import { actorKind, type Credentials, type Resolved } from './credentials.js';

export interface GuardOptions {
  accounts: Accounts;
  credentials: Credentials;
  /** A project's access facts (cached: see ProjectPolicies); undefined when no such project exists. */
  projectPolicy(name: string): Promise<ProjectPolicy | undefined>;
  service: string;
  /** Pulls of public projects without any credentials or token. */
  anonymousPull: boolean;
  realm(request: FastifyRequest): string;
  sourceIp(request: FastifyRequest): string;
}

type Verdict = Decision | { allowed: false; reason: 'no-project' } | { allowed: true; createProject: string };

const ANONYMOUS: Identity = { kind: 'anonymous' };

type RepositoryAction = 'pull' | 'push' | 'delete';

/** The scope a client should ask a token for, for a need (Docker clients ask pull,push to push). */
function scopeFor(need: Need): Access[] {
  if (need.kind === 'catalog') return [{ type: 'registry', name: 'catalog', actions: ['*'] }];
  if (need.kind === 'base') return [];
  const actions = need.action === 'push' ? (['pull', 'push'] as const) : ([need.action] as const);
  return [{ type: 'repository', name: need.name, actions: [...actions] }];
}

/**
 * Who may do what on /v2 (issue #3): resolves the caller's credentials, then allows the request, or
 * answers 401 with a challenge (no or bad credentials, or a token that lacks a scope the identity holds:
 * the client fetches a better token), or 403 DENIED (the identity may not), naming what is missing.
 */
export class RegistryGuard {
  constructor(private readonly options: GuardOptions) {}

  readonly guard = async (request: FastifyRequest, need: Need): Promise<Caller> => {
    const who = await this.options.credentials.resolve(request, need);
    const caller = this.callerOf(who, request);
    request.berthCaller = caller;
    if (need.kind === 'base') {
      if (who.via === 'none') throw this.challenge(request, need, 'authentication required');
      return caller;
    }
    if (need.kind === 'catalog') {
      // The list depends on who asks, and clients log in only when challenged: without one, a logged-in
      // `oras repo ls` got the anonymous (public) list. So challenge even with anonymous pulls on, as
      // Distribution does; a token fetched without credentials still lists the public repositories.
      if (who.via === 'none') throw this.challenge(request, need, 'authentication required');
      return caller;
    }
    // A pulled name that falls to a proxy project (docs/proxy-cache.md, "Daemons using Berth as a mirror") is
    // allowed as that project's repository; challenges still name what the client asked for.
    const served = need.mirror?.name ?? need.name;
    if (who.via === 'bearer') {
      // A token for the name itself (the token endpoint maps only pull-only scopes): the client means the name
      // here, e.g. a push checking what is there already.
      if (need.mirror?.via === 'mirror' && grants(who.access, 'repository', need.name, need.action)) {
        caller.asRequested = true;
        return caller;
      }
      if (grants(who.access, 'repository', served, need.action)) return caller;
      const identity = who.subject === '' ? ANONYMOUS : await this.options.accounts.identityOf(who.subject);
      if (!identity) throw this.challenge(request, need, 'the account behind this token is gone or disabled');
      const verdict = await this.decide(identity, served, need.action, request);
      // The identity may, but this token does not say so: a fresh token with this scope will.
      if (verdict.allowed)
        throw this.challenge(request, need, 'the token does not grant this', 'insufficient_scope');
      throw this.denial(request, identity, who.subject, need, verdict);
    }
    const identity = who.identity;
    if (who.via === 'none' && !this.options.anonymousPull) {
      throw this.challenge(request, need, 'authentication required');
    }
    const verdict = await this.decide(identity, served, need.action, request);
    if (!verdict.allowed) throw this.denial(request, identity, who.subject, need, verdict);
    if ('createProject' in verdict) await this.createProject(verdict.createProject);
    return caller;
  };

  private async decide(
    identity: Identity,
    repository: string,
    action: RepositoryAction | 'bypass-policy',
    request: FastifyRequest,
  ): Promise<Verdict> {
    const name = projectOf(repository);
    const project = await this.options.projectPolicy(name);
    if (!project) {
      // Whoever may push anywhere creates the project by pushing to it, private; nobody else sees it.
      const everywhere = { name, public: false, members: [], pushAllowlist: null };
      const decision = authorize({
        identity,
        project: everywhere,
        action,
        sourceIp: this.options.sourceIp(request),
      });
      if (decision.allowed && action === 'push') return { allowed: true, createProject: name };
      return decision.allowed ? decision : { allowed: false, reason: 'no-project' };
    }
    return authorize({ identity, project, action, sourceIp: this.options.sourceIp(request) });
  }

  private async createProject(name: string): Promise<void> {
    try {
      await this.options.accounts.createProject({ name, public: false });
    } catch (error) {
      if ((error as { code?: string }).code !== 'CONFLICT') throw error;
    }
  }

  private denial(
    request: FastifyRequest,
    identity: Identity,
    subject: string,
    need: Need & { kind: 'repository' },
    verdict: Verdict,
  ): RegistryError {
    if (verdict.allowed) throw new Error('not a denial');
    const reason = verdict.reason;
    if (identity.kind === 'anonymous' || reason === 'unauthenticated' || reason === 'expired') {
      return this.challenge(
        request,
        need,
        reason === 'expired' ? 'the robot account has expired' : 'authentication required',
      );
    }
    const project = projectOf(need.name);
    const who = subject || 'anonymous';
    const message =
      reason === 'no-project'
        ? `project ${project} does not exist`
        : reason === 'address-not-allowed'
          ? `${need.action} to project ${project} is allowed only from its IP allowlist; ${this.options.sourceIp(request)} is not on it`
          : `${who} may not ${need.action} ${need.name}`;
    return new RegistryError('DENIED', { message, detail: { repository: need.name, action: need.action } });
  }

  /** 401 with the challenge that tells a client where to get a token, and for which scope. */
  private challenge(
    request: FastifyRequest,
    need: Need,
    message: string,
    error?: 'insufficient_scope',
  ): RegistryError {
    const challenge = bearerChallenge({
      realm: this.realmFor(request, need),
      service: this.options.service,
      scope: scopeFor(need),
      ...(error && { error }),
    });
    return new RegistryError('UNAUTHORIZED', { message, headers: { 'www-authenticate': challenge } });
  }

  /** 401 for bad credentials: Basic when the client sent Basic, else the token challenge. */
  unauthorized(
    request: FastifyRequest,
    message: string,
    scheme: 'basic' | 'bearer',
    error?: 'invalid_token',
    need?: Need,
  ): RegistryError {
    const header =
      scheme === 'basic'
        ? basicChallenge(this.options.service)
        : bearerChallenge({
            realm: this.realmFor(request, need),
            service: this.options.service,
            ...(need && { scope: scopeFor(need) }),
            ...(error && { error }),
          });
    return new RegistryError('UNAUTHORIZED', { message, headers: { 'www-authenticate': header } });
  }

  /** The token realm; with containerd's `ns=` when the name fell to a proxy project by it (the token maps alike). */
  private realmFor(request: FastifyRequest, need: Need | undefined): string {
    const realm = this.options.realm(request);
    const ns = need?.kind === 'repository' ? need.mirror?.ns : undefined;
    if (ns === undefined) return realm;
    try {
      const url = new URL(realm);
      url.searchParams.set('ns', ns);
      return url.toString();
    } catch {
      return realm;
    }
  }

  private callerOf(who: Resolved, request: FastifyRequest): Caller {
    const identity = async (): Promise<Identity> => {
      if (who.via !== 'bearer') return who.identity;
      if (who.subject === '') return ANONYMOUS;
      return (await this.options.accounts.identityOf(who.subject)) ?? ANONYMOUS;
    };
    return {
      subject: who.subject,
      kind: actorKind(who.subject),
      canPull: async (repository) => {
        if (who.via === 'bearer' && grants(who.access, 'repository', repository, 'pull')) return true;
        return (await this.decide(await identity(), repository, 'pull', request)).allowed;
      },
      visibleProjects: async () => {
        if (who.via === 'bearer' && grants(who.access, 'registry', 'catalog', '*')) return 'all';
        return this.options.accounts.visibleProjects(await identity());
      },
      sourceIp: this.options.sourceIp(request),
      // Asked only when a pull policy would refuse: system administrators and robots granted bypass-policy.
      mayBypassPolicy: async (repository) =>
        (await this.decide(await identity(), repository, 'bypass-policy', request)).allowed,
    };
  }
}
