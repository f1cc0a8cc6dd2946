// Peak memory of the S3 blob store under many concurrent uploads against the local Swift (scripts/swift-s3.sh):
// `count` writes of `MiB` each run at once, each then committed, while process RSS is sampled every 100 ms.
// The sources share one small pool of random bytes, so what the process holds is the store's own buffers.
//   npx tsx bench/s3-memory-probe.ts [count=32] [MiB=256] [budgetMiB=store default] [--verify]
import { createHash, randomBytes } from 'node:crypto';
import { S3BlobStore } from '../src/storage/s3.js';
import { createBucket, deleteBucket, ensureSwift, s3Client } from '../test/helpers/swift.js';

const MiB = 1024 * 1024;
const args = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const verify = process.argv.includes('--verify');
const count = Number(args[0] ?? 32);
const size = Number(args[1] ?? 256) * MiB;
const budget = args[2] === undefined ? undefined : Number(args[2]) * MiB;
const CHUNK = 64 * 1024;
const pool = randomBytes(4 * MiB);

/** Upload `index`'s bytes, in 64 KiB chunks as a request body arrives: the pool, rotated by the index. */
function* source(index: number, hash?: ReturnType<typeof createHash>): Iterable<Uint8Array> {
  const shift = (index * 4099 * 16) % (pool.length - CHUNK);
  for (let at = 0; at < size; at += CHUNK) {
    const from = (shift + at) % (pool.length - CHUNK);
    const chunk = pool.subarray(from, from + Math.min(CHUNK, size - at));
    hash?.update(chunk);
    yield chunk;
  }
}

const endpoint = await ensureSwift();
if (!endpoint) throw new Error('Swift is not available');
const client = s3Client(endpoint);
const bucket = await createBucket(client);
const store = new S3BlobStore({
  ...endpoint,
  bucket,
  ...(budget === undefined ? {} : { partMemoryBytes: budget }),
});

const baseline = process.memoryUsage();
const peak = { rss: baseline.rss, arrayBuffers: baseline.arrayBuffers };
const sampler = setInterval(() => {
  const now = process.memoryUsage();
  peak.rss = Math.max(peak.rss, now.rss);
  peak.arrayBuffers = Math.max(peak.arrayBuffers, now.arrayBuffers);
}, 100);

const start = performance.now();
let writeEnd = 0;
try {
  const digests = await Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const hash = verify ? createHash('sha256') : undefined;
      const written = await store.write(`uploads/u${index}`, source(index, hash), 0);
      if (written !== size) throw new Error(`upload ${index} wrote ${written} bytes, not ${size}`);
      writeEnd = Math.max(writeEnd, performance.now());
      await store.commit(`uploads/u${index}`, `blobs/b${index}`);
      return hash?.digest('hex');
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  for (let index = 0; index < count; index++) {
    const stat = await store.stat(`blobs/b${index}`);
    if (stat?.size !== size) throw new Error(`blob ${index} has ${stat?.size} bytes, not ${size}`);
    if (verify) {
      const hash = createHash('sha256');
      for await (const chunk of await store.read(`blobs/b${index}`)) hash.update(chunk as Uint8Array);
      if (hash.digest('hex') !== digests[index]) throw new Error(`blob ${index} reads back different bytes`);
    }
  }
  const totalMiB = (count * size) / MiB;
  const writes = (writeEnd - start) / 1000;
  const mb = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;
  console.log(
    `${count} × ${size / MiB} MiB${budget === undefined ? '' : `, budget ${budget / MiB} MiB`}: ` +
      `peak RSS ${mb(peak.rss)} (baseline ${mb(baseline.rss)}), peak arrayBuffers ${mb(peak.arrayBuffers)}; ` +
      `writes ${writes.toFixed(1)} s (${(totalMiB / writes).toFixed(0)} MiB/s), writes+commits ${elapsed.toFixed(1)} s` +
      `${verify ? '; all read back byte-exact' : ''}`,
  );
} finally {
  clearInterval(sampler);
  store.destroy();
  await deleteBucket(client, bucket);
  client.destroy();
}
