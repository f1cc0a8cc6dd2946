// The embedded SQLite database shared by several processes, as `berth serve --workers N` shares it: a
// transaction that reads before it writes must not fail because another process committed in between.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type MetadataDatabase, openDatabase } from '../../src/metadata/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Another process on the same file: commits one small write after another until it is killed. */
const WRITER = `
const db = new (require('better-sqlite3'))(process.argv[1]);
db.pragma('busy_timeout = 10000');
const insert = db.prepare('insert into repositories (name, created_at) values (?, ?)');
console.log('writing');
for (let i = 0; ; i++) insert.run('writer/' + i, Date.now());
`;

let dir: string;
let metadata: MetadataDatabase;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-sqlite-processes-'));
  metadata = await openDatabase(`sqlite:${join(dir, 'berth.db')}`);
});

afterAll(async () => {
  await metadata?.db.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('a transaction that reads first commits while another process keeps writing', async () => {
  // Begun DEFERRED, such a transaction holds a read snapshot until its first write; if another process has
  // committed since, SQLite refuses the write with SQLITE_BUSY at once (busy_timeout cannot help: waiting
  // would not make the snapshot current). Seen as 500s from --workers under load, where a worker can be
  // preempted between the two statements while its sibling flushes pull times or renews an upload lease.
  const writer = spawn(process.execPath, ['-e', WRITER, join(dir, 'berth.db')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => writer.once('exit', resolve));
  try {
    const lines = createInterface({ input: writer.stdout });
    for await (const line of lines) if (line === 'writing') break;
    const failures: string[] = [];
    for (let i = 0; i < 300; i++) {
      try {
        await metadata.db.transaction().execute(async (trx) => {
          await trx.selectFrom('repositories').select('id').where('name', '=', `reader/${i}`).execute();
          await trx
            .insertInto('repositories')
            .values({ name: `reader/${i}`, created_at: Date.now() })
            .execute();
        });
      } catch (error) {
        failures.push((error as { code?: string }).code ?? String(error));
      }
    }
    expect(failures).toEqual([]);
    const readers = await metadata.db
      .selectFrom('repositories')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('name', 'like', 'reader/%')
      .executeTakeFirstOrThrow();
    expect(Number(readers.n)).toBe(300);
  } finally {
    writer.kill('SIGKILL');
    await exited;
  }
});
