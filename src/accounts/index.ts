/**
 * accounts/: users, projects, members, robots and personal access tokens over the metadata database
 * (AccountService implements Accounts). No HTTP inside: the token endpoint, the /v2 checks and /api/v1 call in.
 */
export { AccountService, type AccountServiceOptions, BOOTSTRAP_ADMIN } from './account-service.js';
export { MIN_PASSWORD_LENGTH } from './account-validation.js';
export { MAX_PAGE } from './page-cursor.js';
export { MAX_SESSIONS } from './sessions.js';
export { TOKEN_USE_RESOLUTION_MS } from './sign-in.js';
export {
  type AccessToken,
  AccountError,
  type Accounts,
  type Action,
  type Member,
  type Page,
  type PageRequest,
  type Project,
  type Robot,
  type Session,
  type User,
} from './types.js';
