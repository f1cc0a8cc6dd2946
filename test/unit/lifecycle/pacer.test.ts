import { describe, expect, it } from 'vitest';
import { Pacer } from '../../../src/lifecycle/gc/pacer.js';

/** A clock that only moves when a batch says how long it "took". */
function fakeClock() {
  let ms = 0;
  return {
    now: () => ms,
    advance: (by: number) => {
      ms += by;
    },
  };
}

describe('Pacer', () => {
  it('runs every item once, in order, in batches no larger than max', async () => {
    const pacer = new Pacer({ start: 3, max: 8, targetMs: 10, rest: 0 });
    const items = Array.from({ length: 100 }, (_, i) => i);
    const batches: number[][] = [];
    await pacer.each(items, async (batch) => {
      batches.push(batch);
    });
    expect(batches.flat()).toEqual(items);
    expect(Math.max(...batches.map((b) => b.length))).toBeLessThanOrEqual(8);
    expect(batches[0]).toHaveLength(3);
  });

  it('sizes batches to the target time: shrinks after a slow batch, grows at most twofold after a fast one', async () => {
    const clock = fakeClock();
    const pacer = new Pacer({ start: 100, max: 1000, targetMs: 10, rest: 0, now: clock.now });
    const sizes: number[] = [];
    // Each item "takes" 0.5 ms: 100 items take 50 ms, five times the target.
    await pacer.each(Array.from({ length: 200 }), async (batch) => {
      sizes.push(batch.length);
      clock.advance(batch.length * 0.5);
    });
    expect(sizes.slice(0, 2)).toEqual([100, 20]);
    const fast = new Pacer({ start: 10, max: 1000, targetMs: 10, rest: 0, now: clock.now });
    const grown: number[] = [];
    // Each item "takes" 0.01 ms: far under the target, so the size doubles each batch.
    await fast.each(Array.from({ length: 150 }), async (batch) => {
      grown.push(batch.length);
      clock.advance(batch.length * 0.01);
    });
    expect(grown.slice(0, 4)).toEqual([10, 20, 40, 80]);
  });

  it('stops at the first failing batch', async () => {
    const pacer = new Pacer({ start: 2, max: 2, targetMs: 10, rest: 0 });
    const seen: number[] = [];
    await expect(
      pacer.each([1, 2, 3, 4, 5], async (batch) => {
        seen.push(...batch);
        if (batch.includes(3)) throw new Error('stopped');
      }),
    ).rejects.toThrow('stopped');
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it('rests after each batch as long as the batch took times the rest asked for then', async () => {
    const clock = fakeClock();
    const slept: number[] = [];
    let serving = true;
    const pacer = new Pacer({
      start: 1,
      max: 1,
      targetMs: 10,
      rest: () => (serving ? 3 : 0),
      now: clock.now,
      sleep: async (ms) => {
        slept.push(ms);
      },
    });
    await pacer.each([1, 2, 3], async (batch) => {
      clock.advance(10);
      if (batch[0] === 2) serving = false;
    });
    // Three times the batch while serving; one turn of the event loop (1 ms) once quiet.
    expect(slept).toEqual([30, 1, 1]);
  });
});
