// PostgreSQL goes away mid-traffic (a fault proxy between Berth and the shared server resets every
// connection and refuses new ones, as a restart does, without restarting the server the other tests use):
// pushes and pulls keep running; while it is down they fail with 503 UNAVAILABLE and Retry-After (never a
// 500, a hang or a crash), and once it is back they succeed again, on the same Berth process.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildBerth, startChildBerth } from '../helpers/child-server.js';
import { createTestDatabase, dropTestDatabase, postgresAvailable } from '../helpers/postgres.js';
import { describeReply, errorCode, type Reply, send } from '../helpers/raw-http.js';
import { FaultProxy } from './fault-proxy.js';
import { makeImage, type PushOutcome, pullProblems, pushImage, type TestImage } from './image-push.js';
import { uniqueRepo, waitFor } from './support.js';

/** Concurrent clients pushing and pulling. */
const CLIENTS = 6;
/** A request still unanswered after this has hung. */
const HANG_MS = 60_000;

let proxy: FaultProxy;
let databaseUrl: string;
let dataDir: string;
let berth: ChildBerth;

beforeAll(async () => {
  if (!postgresAvailable) return;
  databaseUrl = await createTestDatabase();
  const url = new URL(databaseUrl);
  proxy = await FaultProxy.start({ host: url.hostname, port: Number(url.port || 5432) });
  url.host = `127.0.0.1:${proxy.port}`;
  dataDir = await mkdtemp(join(tmpdir(), 'berth-fault-pg-'));
  berth = await startChildBerth(dataDir, { env: { BERTH_METADATA_URL: url.toString() } });
});

afterAll(async () => {
  if (!postgresAvailable) return;
  await berth?.kill();
  await proxy?.close();
  await dropTestDatabase(databaseUrl).catch(() => {});
  await rm(dataDir, { recursive: true, force: true });
});

function withinHang<T>(what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} hung for ${HANG_MS} ms`)), HANG_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

describe.skipIf(!postgresAvailable)('PostgreSQL connection loss mid-traffic (fault proxy)', () => {
  it('fails requests cleanly with 503 while it is down and serves again after, without a restart', {
    timeout: 600_000,
  }, async () => {
    const repo = uniqueRepo('pg-outage');
    const pid = berth.process.pid;
    const replies: Reply[] = [];
    const acknowledged: TestImage[] = [];
    let phase: 'before' | 'down' | 'after' = 'before';
    const counts = { before: 0, down: 0, after: 0, failedDown: 0 };
    let stop = false;
    let serial = 0;

    const errors: Error[] = [];
    const client = async (index: number) => {
      try {
        while (!stop) {
          const image = makeImage(`${repo}-${index}`, `t${serial++}`, 2, 16 * 1024, serial % 2 === 0);
          const started = phase;
          const outcome: PushOutcome = await withinHang('a push', pushImage(berth.url, image));
          // No request may go unanswered: a refused or reset connection to Berth would mean it crashed.
          if (outcome.error) throw outcome.error;
          replies.push(...outcome.replies);
          if (outcome.acknowledged) {
            acknowledged.push(image);
            // A pull may fail while the database is down (503), never return wrong bytes.
            const problems = await withinHang('a pull', pullProblems(berth.url, image));
            // Manifests are described as `…: 503 {headers}…`, blobs as `…: 503, N bytes`.
            const wrong = problems.filter((problem) => !/: 503\b/.test(problem));
            if (wrong.length > 0) throw new Error(wrong.join('\n'));
            if (phase === started) counts[started]++;
          } else if (phase === 'down') {
            counts.failedDown++;
          }
        }
      } catch (error) {
        const { exitCode, signalCode } = berth.process;
        const state = `berth exit code ${exitCode}, signal ${signalCode}; stderr:\n${berth.stderr().slice(-4000)}`;
        errors.push(new Error(`${(error as Error).message}\n${state}`));
        stop = true;
      }
    };
    const clients = Array.from({ length: CLIENTS }, (_, i) => client(i));
    const progress = (what: string, done: () => boolean) =>
      waitFor(
        what,
        () => {
          if (errors.length > 0) throw errors[0];
          return done();
        },
        HANG_MS,
      );

    await progress('pushes before the outage', () => counts.before >= 10);
    phase = 'down';
    proxy.set('refuse');
    await progress('failed pushes while PostgreSQL is unreachable', () => counts.failedDown >= 10);
    const ready = await send(berth.url, 'GET', '/readyz');
    expect(ready.status, describeReply(ready)).toBe(503);
    expect(JSON.parse(ready.body.toString('utf8')).checks.metadata).not.toBe('ok');
    phase = 'after';
    proxy.set('pass');
    await progress('pushes after PostgreSQL is back', () => counts.after >= 10);
    stop = true;
    await Promise.all(clients);
    expect(errors).toEqual([]);

    const statuses = new Map<number, number>();
    for (const reply of replies) statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
    console.info(`PostgreSQL outage: ${JSON.stringify(counts)}, statuses ${JSON.stringify([...statuses])}`);
    for (const reply of replies) {
      if (reply.status < 500) continue;
      expect(reply.status, describeReply(reply)).toBe(503);
      expect(errorCode(reply)).toBe('UNAVAILABLE');
      expect(reply.headers['retry-after']).toMatch(/^\d+$/);
    }
    expect(statuses.get(503) ?? 0).toBeGreaterThan(0);

    // Every push acknowledged, before, during or after the outage, pulls byte-identical now.
    for (const image of acknowledged) expect(await pullProblems(berth.url, image)).toEqual([]);
    expect((await send(berth.url, 'GET', '/readyz')).status).toBe(200);
    expect(berth.process.pid).toBe(pid);
    expect(berth.process.exitCode).toBeNull();
  });
});
