import { isValidRepositoryName } from '../domain/index.js';
import { AuthError } from './errors.js';

/**
 * Docker token scopes (distribution docs/spec/auth/scope.md):
 *   scope         := resourcescope [ ' ' resourcescope ]*
 *   resourcescope := resourcetype ":" resourcename ":" action [ ',' action ]*
 * The same {type, name, actions} triple is the `access` claim of a token (docs/spec/auth/jwt.md).
 */
export type ResourceType = 'repository' | 'registry';
export type ScopeAction = 'pull' | 'push' | 'delete' | '*';

export interface Access {
  type: ResourceType;
  name: string;
  actions: ScopeAction[];
}

/** Canonical action order, so formatted scopes and token claims are stable. */
const ACTION_ORDER: readonly ScopeAction[] = ['pull', 'push', 'delete', '*'];
const ACTIONS_BY_TYPE: Record<ResourceType, readonly ScopeAction[]> = {
  repository: ACTION_ORDER,
  // Distribution guards /v2/_catalog with registry:catalog:*; nothing else exists under `registry`.
  registry: ['*'],
};
/** Upper bound on resource scopes in one request: real clients send one to three (push + cross-repo mount). */
export const MAX_SCOPES = 64;

// The deprecated resource class, `repository(plugin)`, is accepted and ignored, as Distribution does.
const TYPE_SHAPE = /^([a-z0-9]+)(?:\([a-z0-9]+\))?$/;

function invalid(scope: string, reason: string): AuthError {
  return new AuthError('SCOPE_INVALID', {
    message: `invalid scope ${JSON.stringify(scope)}: ${reason}`,
    detail: { scope },
  });
}

function sortActions(actions: Iterable<ScopeAction>): ScopeAction[] {
  const set = new Set(actions);
  return ACTION_ORDER.filter((action) => set.has(action));
}

function checkName(type: ResourceType, name: string, scope: string): void {
  if (type === 'registry') {
    if (name !== 'catalog') throw invalid(scope, 'the only registry resource is "catalog"');
    return;
  }
  if (name.includes(':')) {
    // The spec's grammar allows "host:port/name"; clients send the name as it appears in /v2/<name>/, and a
    // host never names a repository here, so refuse it rather than authorise a name that cannot exist.
    throw invalid(scope, 'a repository name must not include a registry host:port');
  }
  if (!isValidRepositoryName(name)) throw invalid(scope, 'not a valid repository name');
}

function checkActions(type: ResourceType, actions: readonly string[], scope: string): ScopeAction[] {
  const known = ACTIONS_BY_TYPE[type];
  for (const action of actions) {
    if (!(known as readonly string[]).includes(action)) {
      throw invalid(
        scope,
        `unknown action ${JSON.stringify(action)} for ${type} (allowed: ${known.join(', ')})`,
      );
    }
  }
  return sortActions(actions as ScopeAction[]);
}

/** Parses one resource scope, e.g. `repository:team/app:pull,push`. Throws SCOPE_INVALID. */
export function parseScope(scope: string): Access {
  // Type is up to the first ':', actions after the last; the name between may not hold ':' (see checkName).
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last === first) throw invalid(scope, 'expected type:name:actions');
  const typeMatch = TYPE_SHAPE.exec(scope.slice(0, first));
  if (!typeMatch) throw invalid(scope, 'malformed resource type');
  const type = typeMatch[1] as string;
  if (!Object.hasOwn(ACTIONS_BY_TYPE, type))
    throw invalid(scope, `unsupported resource type ${JSON.stringify(type)}`);
  const resourceType = type as ResourceType;
  const name = scope.slice(first + 1, last);
  checkName(resourceType, name, scope);
  const actionList = scope.slice(last + 1);
  if (actionList === '') throw invalid(scope, 'no actions');
  const actions = actionList.split(',');
  if (actions.includes('')) throw invalid(scope, 'empty action');
  return { type: resourceType, name, actions: checkActions(resourceType, actions, scope) };
}

/** Unions actions of entries that name the same resource; keeps first-seen resource order. */
export function mergeAccess(entries: Iterable<Access>): Access[] {
  const merged = new Map<string, Access>();
  for (const entry of entries) {
    const key = `${entry.type}:${entry.name}`;
    const seen = merged.get(key);
    merged.set(key, {
      type: entry.type,
      name: entry.name,
      actions: sortActions([...(seen?.actions ?? []), ...entry.actions]),
    });
  }
  return [...merged.values()];
}

/**
 * Parses the token endpoint's `scope` values: GET repeats the parameter, POST (OAuth2) puts several scopes in
 * one value separated by spaces; both may combine. Empty values are ignored (a login asks for no scope).
 */
export function parseScopes(params: string | readonly string[] | null | undefined): Access[] {
  const values = params == null ? [] : typeof params === 'string' ? [params] : params;
  const pieces = values.flatMap((value) => value.split(' ')).filter((piece) => piece !== '');
  if (pieces.length > MAX_SCOPES) {
    throw new AuthError('SCOPE_INVALID', { message: `too many scopes (at most ${MAX_SCOPES})` });
  }
  return mergeAccess(pieces.map(parseScope));
}

export function formatScope(access: Access): string {
  return `${access.type}:${access.name}:${sortActions(access.actions).join(',')}`;
}

/** Space-separated, as in a WWW-Authenticate `scope` parameter or an OAuth2 `scope` response field. */
export function formatScopes(entries: readonly Access[]): string {
  return entries.map(formatScope).join(' ');
}

/**
 * What a token may carry: for each requested resource, the requested actions the caller is allowed. A `*` in
 * `allowed` grants every requested action; a requested `*` is granted only by an allowed `*`. Resources left
 * with no action are dropped: per the token spec, partial or no access is not an error at the token endpoint.
 */
export function intersect(requested: readonly Access[], allowed: readonly Access[]): Access[] {
  const allowedByResource = new Map(
    mergeAccess(allowed).map((entry) => [`${entry.type}:${entry.name}`, entry]),
  );
  const granted: Access[] = [];
  for (const entry of mergeAccess(requested)) {
    const permitted = new Set(allowedByResource.get(`${entry.type}:${entry.name}`)?.actions ?? []);
    const actions = permitted.has('*')
      ? entry.actions
      : entry.actions.filter((action) => permitted.has(action));
    if (actions.length > 0) granted.push({ type: entry.type, name: entry.name, actions });
  }
  return granted;
}

/** The registry-side check: does a verified token's access list allow `action` on this resource? */
export function grants(
  access: readonly Access[],
  type: ResourceType,
  name: string,
  action: ScopeAction,
): boolean {
  return access.some(
    (entry) =>
      entry.type === type &&
      entry.name === name &&
      (entry.actions.includes(action) || entry.actions.includes('*')),
  );
}

/**
 * Validates an `access` claim read from a token: an array of {type, name, actions} with known types, valid
 * names and known actions, and nothing else. Throws TOKEN_INVALID.
 */
export function parseAccessClaim(value: unknown): Access[] {
  const fail = (reason: string) =>
    new AuthError('TOKEN_INVALID', { message: `invalid access claim: ${reason}` });
  if (!Array.isArray(value)) throw fail('not an array');
  if (value.length > MAX_SCOPES) throw fail('too many entries');
  return value.map((item: unknown): Access => {
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      throw fail('entry is not an object');
    const keys = Object.keys(item).sort().join(',');
    if (keys !== 'actions,name,type') throw fail(`entry has fields ${keys}`);
    const { type, name, actions } = item as Record<string, unknown>;
    if (typeof type !== 'string' || !Object.hasOwn(ACTIONS_BY_TYPE, type)) throw fail('unknown type');
    if (typeof name !== 'string') throw fail('name is not a string');
    if (!Array.isArray(actions) || !actions.every((a) => typeof a === 'string')) throw fail('bad actions');
    const resourceType = type as ResourceType;
    try {
      checkName(resourceType, name, `${type}:${name}`);
      return { type: resourceType, name, actions: checkActions(resourceType, actions, `${type}:${name}`) };
    } catch (error) {
      throw fail(error instanceof Error ? error.message : String(error));
    }
  });
}
