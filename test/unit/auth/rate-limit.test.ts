import { describe, expect, it } from 'vitest';
import { addressKey, FailureLimiter, LoginThrottle } from '../../../src/auth/index.js';

function clock(start = 1_000_000) {
  const state = { now: start };
  return { state, now: () => state.now, advance: (seconds: number) => (state.now += seconds * 1000) };
}

describe('FailureLimiter', () => {
  it('allows maxFailures failures, then refuses with the time until the oldest leaves the window', () => {
    const time = clock();
    const limiter = new FailureLimiter({ maxFailures: 3, windowSeconds: 60, now: time.now });
    for (let i = 0; i < 3; i++) {
      expect(limiter.check('k')).toEqual({ allowed: true });
      limiter.recordFailure('k');
      time.advance(10);
    }
    // Failures at t=0, 10, 20; now t=30: the first leaves the window at t=60.
    expect(limiter.check('k')).toEqual({ allowed: false, retryAfterSeconds: 30 });
    time.advance(29);
    expect(limiter.check('k')).toEqual({ allowed: false, retryAfterSeconds: 1 });
    time.advance(1);
    expect(limiter.check('k')).toEqual({ allowed: true });
  });

  it('slides: failures keep counting while they stay inside the window', () => {
    const time = clock();
    const limiter = new FailureLimiter({ maxFailures: 2, windowSeconds: 10, now: time.now });
    limiter.recordFailure('k');
    time.advance(9);
    limiter.recordFailure('k');
    expect(limiter.check('k').allowed).toBe(false);
    time.advance(1); // the first failure is now 10 s old: out
    expect(limiter.check('k').allowed).toBe(true);
    limiter.recordFailure('k');
    expect(limiter.check('k')).toEqual({ allowed: false, retryAfterSeconds: 9 });
  });

  it('keeps keys apart, and a success clears a key', () => {
    const limiter = new FailureLimiter({ maxFailures: 1, windowSeconds: 60 });
    limiter.recordFailure('a');
    expect(limiter.check('a').allowed).toBe(false);
    expect(limiter.check('b').allowed).toBe(true);
    limiter.recordSuccess('a');
    expect(limiter.check('a').allowed).toBe(true);
  });

  it('rounds retryAfterSeconds up, never below 1', () => {
    const time = clock();
    const limiter = new FailureLimiter({ maxFailures: 1, windowSeconds: 1.5, now: time.now });
    limiter.recordFailure('k');
    time.state.now += 1499;
    expect(limiter.check('k')).toEqual({ allowed: false, retryAfterSeconds: 1 });
    time.state.now -= 1499;
    expect(limiter.check('k')).toEqual({ allowed: false, retryAfterSeconds: 2 });
  });

  it('keeps memory bounded: the least recently used keys are forgotten', () => {
    const limiter = new FailureLimiter({ maxFailures: 1, windowSeconds: 60, maxKeys: 100 });
    limiter.recordFailure('first');
    for (let i = 0; i < 100; i++) limiter.recordFailure(`flood-${i}`);
    expect(limiter.check('first').allowed).toBe(true);
    expect(limiter.check('flood-99').allowed).toBe(false);
  });

  it('validates its options', () => {
    expect(() => new FailureLimiter({ maxFailures: 0, windowSeconds: 60 })).toThrow(RangeError);
    expect(() => new FailureLimiter({ maxFailures: 1.5, windowSeconds: 60 })).toThrow(RangeError);
    expect(() => new FailureLimiter({ maxFailures: 3, windowSeconds: 0 })).toThrow(RangeError);
  });
});

describe('addressKey', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::ffff:c000:201', '192.0.2.1'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:ffff::1', '2001:db8:1:2::/64'],
    ['2001:DB8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['not-an-ip', 'not-an-ip'],
  ])('%s counts as %s', (ip, key) => {
    expect(addressKey(ip)).toBe(key);
  });
});

describe('LoginThrottle', () => {
  const options = (time: ReturnType<typeof clock>) => ({
    account: { maxFailures: 3, windowSeconds: 60 },
    address: { maxFailures: 5, windowSeconds: 120 },
    now: time.now,
  });

  it('limits one account guessed from many addresses', () => {
    const time = clock();
    const throttle = new LoginThrottle(options(time));
    for (let i = 0; i < 3; i++) throttle.recordFailure({ username: 'alice', ip: `192.0.2.${i}` });
    expect(throttle.check({ username: 'alice', ip: '198.51.100.1' })).toEqual({
      allowed: false,
      retryAfterSeconds: 60,
    });
    expect(throttle.check({ username: 'bob', ip: '198.51.100.1' })).toEqual({ allowed: true });
  });

  it('counts usernames case-insensitively', () => {
    const throttle = new LoginThrottle(options(clock()));
    for (const username of ['Alice', 'ALICE', 'alice']) throttle.recordFailure({ username, ip: '192.0.2.1' });
    expect(throttle.check({ username: 'aLiCe', ip: '192.0.2.9' }).allowed).toBe(false);
  });

  it('limits one address trying many accounts, across an IPv6 /64', () => {
    const time = clock();
    const throttle = new LoginThrottle(options(time));
    for (let i = 0; i < 5; i++)
      throttle.recordFailure({ username: `user${i}`, ip: `2001:db8:1:2::${i + 1}` });
    expect(throttle.check({ username: 'fresh', ip: '2001:db8:1:2:abcd::1' })).toEqual({
      allowed: false,
      retryAfterSeconds: 120,
    });
    expect(throttle.check({ username: 'fresh', ip: '2001:db8:1:3::1' }).allowed).toBe(true);
  });

  it('answers with the longer wait when both limits are hit', () => {
    const time = clock();
    const throttle = new LoginThrottle(options(time));
    for (let i = 0; i < 5; i++) throttle.recordFailure({ username: 'alice', ip: '192.0.2.1' });
    expect(throttle.check({ username: 'alice', ip: '192.0.2.1' })).toEqual({
      allowed: false,
      retryAfterSeconds: 120,
    });
  });

  it('a success clears the account count but not the address count', () => {
    const time = clock();
    const throttle = new LoginThrottle(options(time));
    for (let i = 0; i < 3; i++) throttle.recordFailure({ username: 'victim', ip: '192.0.2.1' });
    throttle.recordSuccess({ username: 'victim', ip: '192.0.2.1' });
    expect(throttle.check({ username: 'victim', ip: '203.0.113.1' }).allowed).toBe(true);
    for (let i = 0; i < 2; i++) throttle.recordFailure({ username: 'other', ip: '192.0.2.1' });
    throttle.recordSuccess({ username: 'attacker-own-account', ip: '192.0.2.1' });
    expect(throttle.check({ username: 'someone', ip: '192.0.2.1' }).allowed).toBe(false);
  });

  it('uses sane defaults: 10 failures per account', () => {
    const throttle = new LoginThrottle();
    for (let i = 0; i < 9; i++) throttle.recordFailure({ username: 'alice', ip: `192.0.2.${i}` });
    expect(throttle.check({ username: 'alice', ip: '192.0.2.99' }).allowed).toBe(true);
    throttle.recordFailure({ username: 'alice', ip: '192.0.2.10' });
    expect(throttle.check({ username: 'alice', ip: '192.0.2.99' }).allowed).toBe(false);
  });
});
