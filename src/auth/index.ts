/**
 * auth/: identities, credentials, tokens and access decisions. No HTTP, no database: the server and the
 * metadata store call in with plain values.
 *
 * How the pieces meet (Docker token flow, distribution docs/spec/auth/token.md):
 *
 *   1. A /v2 request without a valid bearer token gets 401 with
 *      `WWW-Authenticate: bearerChallenge({realm, service, scope})`.
 *   2. GET/POST /token: `parseAuthorization(header)` → Basic username/password, then
 *        - LoginThrottle.begin({username, ip}) first (429 when refused); then the ticket's failed/succeeded;
 *        - a password of the form `berth_<id>_<secret>` (parseSecretToken) is a personal access token or robot
 *          secret: find the row by id, `verifyToken(secret, row.hash)`, check the row belongs to `username`;
 *        - a local user: `verifyPassword(password, row.hash)` (or `verifyAgainstDummy` for an unknown name),
 *          then `needsRehash(row.hash)` → store `hashPassword(password)`;
 *        - an LDAP user: `LdapAuthenticator.authenticate(username, password)` → groups for Identity.groups;
 *        - grant_type=refresh_token: `TokenService.verifyRefresh(token, {audience: service})`.
 *      Then `requested = parseScopes(query.scope)` (SCOPE_INVALID → 400), fetch the projects
 *      `projectOf(name)` names, `access = grantAccess({identity, requested, project, sourceIp})`, and answer
 *      `TokenService.issue({subject, audience: service, access})` (+ `issueRefresh` when offline_token=true or
 *      access_type=offline; OAuth2 answers also carry `scope: formatScopes(access)`).
 *   3. Each /v2 request: `parseAuthorization` → bearer → `TokenService.verify(token, {audience: service})`
 *      (TOKEN_INVALID → 401 with `error="invalid_token"`), then
 *      `grants(verified.access, 'repository', name, 'pull' | 'push' | 'delete')`; when it fails → 401 with
 *      `bearerChallenge({…, scope: [needed], error: 'insufficient_scope'})`. The token carries the grant, so
 *      the registry needs no database lookup per request (a project made private takes effect at expiry).
 *   4. Management API (/api/v1): `authorize({identity, project, action, sourceIp})` with management actions
 *      (tags:manage, members:manage, project:settings); denial reasons map to 401 or 403.
 *
 * Decisions:
 *   - A single-segment repository (`busybox`) belongs to project DEFAULT_PROJECT (`library`); its name is not
 *     rewritten.
 *   - A project's push allowlist restricts push and delete, for every identity including system admins; with
 *     an allowlist and no known client address, writes are refused.
 *   - A requested `*` on a repository is granted only to whoever holds pull, push and delete there.
 *   - registry:catalog:* is for system administrators only.
 *   - A personal access token with permissions signs its user in with `Identity.limit`: the user then holds
 *     the intersection of their roles and those grants (public pulls stay, as anonymous has them); the
 *     catalog needs a `*` grant with pull.
 *   - Tokens are ES256 JWTs; kid is the RFC 7638 thumbprint; refresh tokens have `typ: berth-refresh+jwt` and
 *     `token_use: refresh`, and neither kind verifies as the other.
 */

export { basicAuthorization, type Credentials, parseAuthorization } from './authorization-header.js';
export {
  authorize,
  canListCatalog,
  type Decision,
  type DecisionContext,
  type DenyReason,
  grantAccess,
  type Identity,
  type ProjectMember,
  type ProjectPolicy,
  permittedActions,
  type RobotPermission,
  scopeActionsFor,
} from './authorize.js';
export {
  type BearerChallenge,
  type BearerError,
  basicChallenge,
  bearerChallenge,
  quote,
} from './challenge.js';
export { AUTH_ERROR_CODES, AuthError, type AuthErrorCode } from './errors.js';
export { IpAllowlist } from './ip-allowlist.js';
export { fileKeyStore, type KeyStore, memoryKeyStore } from './key-store.js';
export { LdapAuthenticator, type LdapConfig, type LdapUser } from './ldap.js';
export { escapeFilterValue } from './ldap-syntax.js';
export {
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  needsRehash,
  type ScryptParams,
  verifyAgainstDummy,
  verifyPassword,
} from './password.js';
export {
  addressKey,
  combine as combineReservations,
  type FailureLimit,
  type FailureLog,
  judge as judgeReservation,
  type LoginAttempt,
  type LoginGate,
  LoginThrottle,
  type LoginThrottleOptions,
  type LoginTicket,
  MemoryFailureLog,
  PENDING_TIMEOUT_MS,
  type Reservation,
} from './rate-limit.js';
export {
  ACTIONS,
  type Action,
  actionsFor,
  DEFAULT_PROJECT,
  higherRole,
  isProjectRole,
  PROJECT_ROLES,
  type ProjectRole,
  projectOf,
  type Role,
  WRITE_ACTIONS,
} from './roles.js';
export {
  type Access,
  formatScope,
  formatScopes,
  grants,
  intersect,
  MAX_SCOPES,
  mergeAccess,
  parseAccessClaim,
  parseScope,
  parseScopes,
  type ResourceType,
  type ScopeAction,
} from './scope.js';
export {
  createSecretToken,
  generateSecret,
  hashToken,
  type NewSecretToken,
  parseSecretToken,
  TOKEN_PREFIX,
  verifyToken,
} from './secret-token.js';
export {
  type IssuedToken,
  type IssueRequest,
  MIN_EXPIRES_IN_SECONDS,
  TokenService,
  type TokenServiceOptions,
  type VerifiedRefreshToken,
  type VerifiedToken,
} from './token-service.js';
