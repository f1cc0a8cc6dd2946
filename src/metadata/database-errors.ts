import pg from 'pg';
import { preparedQuery } from './prepared-statements.js';

/**
 * The database did not answer or lost the connection (PostgreSQL restarting, a network cut, no free
 * connection in time): the request may succeed if retried later.
 */
export class DatabaseUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`metadata database unavailable: ${(cause as Error).message}`, { cause });
    this.name = 'DatabaseUnavailableError';
  }
}

/** SQLite could not write for want of space on its disk. */
export function isDatabaseFull(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === 'SQLITE_FULL';
}

/**
 * SQLSTATEs that mean the server, not the query, failed: connection exceptions (class 08), the server shutting
 * down or starting (57P01-57P03), too many connections (53300).
 */
const SERVER_STATES = new Set(['57P01', '57P02', '57P03', '53300']);

/** Whether an error of a pg connect or query says the server is unreachable rather than the query wrong. */
function isConnectionFailure(error: unknown): boolean {
  if (error instanceof pg.DatabaseError) {
    const state = error.code ?? '';
    return state.startsWith('08') || SERVER_STATES.has(state);
  }
  // pg's own errors for a lost or refused connection are plain Errors (or socket errors); a TypeError or
  // RangeError is a bug in the query, not the server's doing.
  return error instanceof Error && !(error instanceof TypeError) && !(error instanceof RangeError);
}

function unavailableOr(error: unknown): unknown {
  return isConnectionFailure(error) ? new DatabaseUnavailableError(error) : error;
}

/** The pool as Kysely uses it: connections and queries that fail for want of the server throw DatabaseUnavailableError. */
export function reportingUnavailable(pool: pg.Pool): {
  connect(): Promise<pg.PoolClient>;
  end(): Promise<void>;
} {
  // One wrapper per client: Kysely keys its connection objects by client.
  const wrapped = new WeakMap<pg.PoolClient, pg.PoolClient>();
  const wrap = (client: pg.PoolClient): pg.PoolClient => {
    let proxy = wrapped.get(client);
    if (!proxy) {
      proxy = new Proxy(client, {
        get(target, property) {
          const value = Reflect.get(target, property, target);
          if (property !== 'query') return typeof value === 'function' ? value.bind(target) : value;
          return (...args: unknown[]) => {
            const result = (value as (...a: unknown[]) => unknown).apply(target, preparedQuery(args));
            // A cursor (streamed query) is returned as is; a promise gets its failure classified.
            return result instanceof Promise
              ? result.catch((error: unknown) => {
                  throw unavailableOr(error);
                })
              : result;
          };
        },
      });
      wrapped.set(client, proxy);
    }
    return proxy;
  };
  return {
    connect: async () => {
      try {
        return wrap(await pool.connect());
      } catch (error) {
        throw unavailableOr(error);
      }
    },
    end: () => pool.end(),
  };
}
