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
    now += 249;
    expect(activity.busy).toBe(true);
    now += 2;
    expect(activity.busy).toBe(false);
  });

  it('counts a server’s requests from arrival to response, including one whose client went away', async () => {
    let now = 0;
    const activity = new RequestActivity(() => now);
    const app = Fastify({ forceCloseConnections: true });
    activity.track(app);
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let arrived: () => void = () => {};
    const arrival = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    app.get('/slow', async () => {
      arrived();
      await held;
      return { ok: true };
    });
    app.get('/fast', async () => ({ ok: true }));
    let unhang: () => void = () => {};
    const hanging = new Promise<void>((resolve) => {
      unhang = resolve;
    });
    app.get('/hang', async () => {
      arrived();
      await hanging;
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      expect((await fetch(`${base}/fast`)).status).toBe(200);
      now += 1000;
      expect(activity.busy).toBe(false);

      const slow = fetch(`${base}/slow`);
      await arrival;
      now += 1000;
      expect(activity.busy).toBe(true);
      release();
      expect((await slow).status).toBe(200);
      now += 1000;
      expect(activity.busy).toBe(false);

      // A client that gives up mid-request: its response never completes, its connection closes.
      const hung = new Promise<void>((resolve) => {
        arrived = resolve;
      });
      const gone = new AbortController();
      const abandoned = fetch(`${base}/hang`, { signal: gone.signal }).catch(() => 'aborted');
      await hung;
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
      unhang();
      await app.close();
    }
  });
});
