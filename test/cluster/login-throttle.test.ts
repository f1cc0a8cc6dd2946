// Login throttling holds across processes: `berth serve --workers 2` on one SQLite file, and two nodes on one
// PostgreSQL database. Failures spread over the processes count toward one limit: maxLoginFailures in total,
// not maxLoginFailures per process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, sharedFilesystemBackend, startCluster } from '../helpers/cluster.js';
import { postgresAvailable } from '../helpers/postgres.js';
import { describeReply, errorCode, type Reply } from '../helpers/raw-http.js';
import { type Served, sendServed, startWorkers, type Workers } from '../helpers/worker-processes.js';

const MAX = 4;
const ADMIN_PASSWORD = 'throttle test admin password';
const AUTH_ENV = {
  BERTH_AUTH_ENABLED: 'true',
  BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD,
  BERTH_AUTH_MAX_LOGIN_FAILURES: String(MAX),
  BERTH_AUTH_LOGIN_WINDOW_SECONDS: '600',
};

const basic = (username: string, password: string) =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

/** A login at the token endpoint, saying which process served it. */
function login(
  base: string,
  logs: () => Record<string, unknown>[],
  username: string,
  password: string,
): Promise<Served> {
  return sendServed(base, logs, 'GET', '/token?service=berth', {
    headers: { authorization: basic(username, password) },
  });
}

function expectTooMany(reply: Reply): void {
  expect(reply.status, describeReply(reply)).toBe(429);
  expect(errorCode(reply)).toBe('TOOMANYREQUESTS');
  const wait = Number(reply.headers['retry-after']);
  expect(Number.isInteger(wait) && wait >= 1 && wait <= 600, `Retry-After ${wait}`).toBe(true);
}

type Target = { base: string; logs: () => Record<string, unknown>[] };

/** The shared checks, on targets that reach at least two processes (one target per node, or one for workers). */
function throttleChecks(targets: () => Target[], processes: () => number[]) {
  it(`sequential failures spread over the processes stop after ${MAX} in total`, async () => {
    const replies: Served[] = [];
    for (let i = 0; i < 2 * MAX; i++) {
      const target = targets()[i % targets().length] as Target;
      replies.push(await login(target.base, target.logs, 'admin', `wrong password ${i}`));
    }
    const failed = replies.slice(0, MAX);
    for (const reply of failed) expect(reply.status, describeReply(reply)).toBe(401);
    // Per process, each would still have allowed more: every process took some of the failures.
    expect(new Set(failed.map((reply) => reply.pid))).toEqual(new Set(processes()));
    for (const reply of replies.slice(MAX)) expectTooMany(reply);
    // The right password too, on every process.
    for (const target of targets()) {
      for (let i = 0; i < 2; i++)
        expectTooMany(await login(target.base, target.logs, 'admin', ADMIN_PASSWORD));
    }
  });

  it(`concurrent failures spread over the processes get exactly ${MAX} guesses in`, async () => {
    const replies = await Promise.all(
      Array.from({ length: 6 * MAX }, (_, i) => {
        const target = targets()[i % targets().length] as Target;
        return login(target.base, target.logs, 'nobody-in-particular', `wrong password ${i}`);
      }),
    );
    const guesses = replies.filter((reply) => reply.status === 401);
    expect(guesses, replies.map((reply) => reply.status).join(' ')).toHaveLength(MAX);
    for (const reply of replies.filter((r) => r.status !== 401)) expectTooMany(reply);
    expect(new Set(replies.map((reply) => reply.pid))).toEqual(new Set(processes()));
  });
}

describe('login throttling with berth serve --workers 2 on SQLite', () => {
  let workers: Workers;

  beforeAll(async () => {
    workers = await startWorkers('berth-throttle-workers-', AUTH_ENV);
  }, 60_000);

  afterAll(async () => {
    await workers?.stop();
  });

  throttleChecks(
    () => [{ base: workers.berth.url, logs: () => workers.berth.logs() }],
    () => workers.pids,
  );
});

describe.skipIf(!postgresAvailable)('login throttling with two nodes on one PostgreSQL database', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster(sharedFilesystemBackend, { nodes: 2, env: AUTH_ENV });
  }, 60_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  throttleChecks(
    () => cluster.nodes.map((node) => ({ base: node.url, logs: () => node.logs() })),
    () => cluster.nodes.map((node) => node.process.pid as number),
  );
});
