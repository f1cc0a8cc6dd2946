// RequestActivity (server/request-activity.ts): whether the server is serving, which paces garbage collection.
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { RequestActivity } from '../../src/server/request-activity.js';

describe('RequestActivity', () => {
  it('is busy while a request is in flight and for a moment after the last one ended', () => {
    let now = 1000;
    const activity = new RequestActivity(() => now);
    expect(activity.busy).toBe(false);
    activity.started();
    activity.started();
    now += 10_000;
    expect(activity.busy).toBe(true);
    activity.ended();
    now += 10_000;
    expect(activity.busy).toBe(true);
    activity.ended();
    expect(activity.busy).toBe(true);
    now += 99;
    expect(activity.busy).toBe(true);
    now += 2;
    expect(activity.busy).toBe(false);
  });

  it('counts a server’s requests from arrival to response, but not probes, and a request whose client left', async () => {
    let now = 0;
    const activity = new RequestActivity(() => now);
    const app = Fastify({ forceCloseConnections: true });
    activity.track(app);
    // Each held route says when a request arrived and answers when released.
    let arrived = gate();
    let released = gate();
    const held = async () => {
      arrived.open();
      await released.wait;
      return { ok: true };
    };
    app.get('/slow', held);
    app.get('/healthz', held);
    app.get('/fast', async () => ({ ok: true }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      expect((await fetch(`${base}/fast`)).status).toBe(200);
      now += 1000;
      expect(activity.busy).toBe(false);

      const slow = fetch(`${base}/slow`);
      await arrived.wait;
      now += 1000;
      expect(activity.busy).toBe(true);
      released.open();
      expect((await slow).status).toBe(200);
      now += 1000;
      expect(activity.busy).toBe(false);

      // A probe is not traffic: /healthz held open leaves the server quiet.
      [arrived, released] = [gate(), gate()];
      const probe = fetch(`${base}/healthz`);
      await arrived.wait;
      now += 1000;
      expect(activity.busy).toBe(false);
      released.open();
      expect((await probe).status).toBe(200);

      // A client that gives up mid-request: its response never completes, its connection closes.
      [arrived, released] = [gate(), gate()];
      const gone = new AbortController();
      const abandoned = fetch(`${base}/slow`, { signal: gone.signal }).catch(() => 'aborted');
      await arrived.wait;
      now += 1000;
      expect(activity.busy).toBe(true);
      gone.abort();
      expect(await abandoned).toBe('aborted');
      const deadline = Date.now() + 10_000;
      while (activity.busy) {
        if (Date.now() > deadline) throw new Error('the abandoned request was never counted as ended');
        await sleep(10);
        now += 1000;
      }
    } finally {
      released.open();
      await app.close();
    }
  });
});

/** A promise and the function that resolves it. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open: () => void = () => {};
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}
