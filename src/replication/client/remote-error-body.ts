import { printableUrl, type RemoteErrorEntry, RemoteRegistryError } from './errors.js';
import { parseRetryAfter } from './retry-policy.js';
import type { Answer } from './transport.js';

/** Error bodies are small; anything longer is not read past this. */
const MAX_ERROR_BODY = 64 * 1024;

/** The RemoteRegistryError an error answer stands for, its body read as an OCI error body when it is one. */
export async function remoteError(method: string, answer: Answer): Promise<RemoteRegistryError> {
  let errors: RemoteErrorEntry[] = [];
  if (method !== 'HEAD') {
    try {
      const text = (await answer.read(MAX_ERROR_BODY)).toString('utf8');
      const parsed = JSON.parse(text) as { errors?: unknown };
      if (Array.isArray(parsed.errors)) {
        errors = parsed.errors.filter(
          (entry): entry is RemoteErrorEntry => typeof (entry as RemoteErrorEntry)?.code === 'string',
        );
      }
    } catch {
      // not an OCI error body (a proxy's HTML page, a truncated body): the status speaks for itself
    }
  } else await answer.discard();
  return new RemoteRegistryError(
    method,
    printableUrl(answer.url),
    answer.status,
    errors,
    parseRetryAfter(answer.headers.get('retry-after')),
  );
}
