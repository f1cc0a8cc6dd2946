import { OidcLoginError } from './errors.js';

/** What Berth keeps of a provider's claims about a user. */
export interface OidcProfile {
  issuer: string;
  /** The provider's stable id for the user (`sub`). */
  subject: string;
  /** The usernameClaim's value, as the provider gave it. */
  username: string;
  email: string | null;
  /** The groupsClaim's values (a list, or a single string); empty when absent. */
  groups: string[];
}

const MAX_GROUPS = 1000;
const MAX_GROUP_NAME = 256;

/**
 * Reads a profile from the ID token's claims merged with the userinfo answer (providers put groups in
 * either). A claim name may be a dotted path into nested objects (`realm_access.roles`).
 */
export function profileFromClaims(
  claims: Record<string, unknown>,
  options: { issuer: string; usernameClaim: string; groupsClaim: string },
): OidcProfile {
  const subject = claims.sub;
  if (typeof subject !== 'string' || subject === '') {
    throw new OidcLoginError('CLAIMS_INVALID', 'the provider named no subject (sub)');
  }
  const username = claimAt(claims, options.usernameClaim);
  if (typeof username !== 'string' || username === '') {
    throw new OidcLoginError(
      'CLAIMS_INVALID',
      `the provider gave no ${options.usernameClaim} claim to name the user (auth.oidc.usernameClaim)`,
    );
  }
  const email = claims.email;
  const rawGroups = claimAt(claims, options.groupsClaim);
  const list = Array.isArray(rawGroups) ? rawGroups : typeof rawGroups === 'string' ? [rawGroups] : [];
  const groups = [
    ...new Set(
      list.filter(
        (group): group is string =>
          typeof group === 'string' && group !== '' && group.length <= MAX_GROUP_NAME,
      ),
    ),
  ];
  if (groups.length > MAX_GROUPS) {
    throw new OidcLoginError('CLAIMS_INVALID', `the provider gave more than ${MAX_GROUPS} groups`);
  }
  return {
    issuer: options.issuer,
    subject,
    username,
    email: typeof email === 'string' && email !== '' ? email : null,
    groups,
  };
}

function claimAt(claims: Record<string, unknown>, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let value: unknown = claims;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}
