// CNCF Distribution 2.8.2 that a test can kill -9 and start again on the same port and storage: a replication
// target that dies mid-execution and comes back.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { distributionConfig, filesystemStorage } from '../helpers/distribution-config.js';
import { freePort } from '../helpers/ports.js';
import { DISTRIBUTION_BINARY } from './distribution.js';

export class RestartableDistribution {
  private child: ChildProcess | undefined;

  private constructor(
    private readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RestartableDistribution> {
    const dir = await mkdtemp(join(tmpdir(), 'berth-distribution-'));
    const port = await freePort();
    await writeFile(join(dir, 'config.yml'), distributionConfig(filesystemStorage(join(dir, 'data')), port));
    const registry = new RestartableDistribution(dir, port);
    await registry.up();
    return registry;
  }

  /** Starts the process (again) and waits until it answers. */
  async up(): Promise<void> {
    const child = spawn(DISTRIBUTION_BINARY as string, ['serve', join(this.dir, 'config.yml')], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    this.child = child;
    for (let i = 0; i < 400; i++) {
      if (child.exitCode !== null) throw new Error(`docker-registry exited ${child.exitCode}`);
      try {
        const res = await fetch(`${this.url}/v2/`);
        await res.arrayBuffer();
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`docker-registry did not answer on ${this.url}`);
  }

  /** SIGKILL: no goodbye to the requests in flight. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async close(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }
}
