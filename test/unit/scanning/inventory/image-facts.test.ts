import { describe, expect, it } from 'vitest';
import { imageFacts, runsAsRoot } from '../../../../src/scanning/inventory/image-facts.js';

describe('image facts from the config', () => {
  it.each([
    ['', true],
    ['0', true],
    ['root', true],
    ['0:0', true],
    ['root:wheel', true],
    ['00', true],
    ['1000', false],
    ['app', false],
    ['app:0', false],
    ['1000:0', false],
    ['rooter', false],
  ])('User %j runs as root: %s', (user, root) => {
    expect(runsAsRoot(user)).toBe(root);
  });

  it('reads User, ExposedPorts and the platform', () => {
    const config = {
      os: 'linux',
      architecture: 'arm64',
      variant: 'v8',
      config: { User: '1000:1000', ExposedPorts: { '22/tcp': {}, '8080/tcp': {} } },
    };
    const problems: string[] = [];
    expect(imageFacts(Buffer.from(JSON.stringify(config)), [], [], problems)).toEqual({
      user: '1000:1000',
      runsAsRoot: false,
      exposedPorts: ['22/tcp', '8080/tcp'],
      sshServer: { installed: false },
      platform: 'linux/arm64/v8',
    });
    expect(problems).toEqual([]);
  });

  it('a config that is not JSON is a problem, and the facts assume the worst (root)', () => {
    const problems: string[] = [];
    const facts = imageFacts(Buffer.from('{not json'), [], [], problems);
    expect(facts.runsAsRoot).toBe(true);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^image config is not JSON/);
  });
});
