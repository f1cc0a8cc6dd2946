import type { z } from 'zod';
import { AccountError } from '../accounts/types.js';
import { AuthError } from '../auth/index.js';
import { RegistryError } from '../registry/index.js';
import { unauthorized } from './access.js';

const ACCOUNT_CODES = {
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  INVALID: 'INVALID_REQUEST',
  FORBIDDEN: 'DENIED',
} as const;

/** Turns the core's typed errors into RegistryErrors the server's error handler renders; others pass through. */
export function toApiError(error: unknown): unknown {
  if (error instanceof RegistryError) {
    // A failed login must say how to log in, whoever threw it.
    if (error.code === 'UNAUTHORIZED' && error.headers['www-authenticate'] === undefined) {
      return unauthorized(error.message);
    }
    return error;
  }
  if (error instanceof AccountError) {
    return new RegistryError(ACCOUNT_CODES[error.code], { message: error.message });
  }
  if (error instanceof AuthError) {
    if (error.status === 401) return unauthorized(error.message);
    if (error.status === 400) {
      return new RegistryError('INVALID_REQUEST', { message: error.message, detail: error.detail });
    }
    if (error.status === 503) return new RegistryError('UNAVAILABLE', { message: error.message });
  }
  return error;
}

/** A zod failure as a 400 whose message names every bad field and whose detail lists the issues. */
export function invalidRequest(where: 'body' | 'path' | 'query', error: z.ZodError): RegistryError {
  const issues = error.issues.map((issue) => ({
    path: [where, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
  const summary = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
  return new RegistryError('INVALID_REQUEST', { message: `invalid request: ${summary}`, detail: { issues } });
}
