// Times the S3 blob store against the local Swift (scripts/swift-s3.sh): a 256 MiB blob written in one write
// and in 16 MiB writes, then committed and read back.   npx tsx bench/s3-probe.ts [MiB] [rounds]
import { createHash, randomBytes } from 'node:crypto';
import { S3BlobStore } from '../src/storage/s3.js';
import { createBucket, deleteBucket, ensureSwift, s3Client } from '../test/helpers/swift.js';

const MiB = 1024 * 1024;
const total = Number(process.argv[2] ?? 256) * MiB;
const rounds = Number(process.argv[3] ?? 2);

function* chunks(data: Buffer, from: number, to: number): Iterable<Uint8Array> {
  // 64 KiB, as a request body arrives.
  for (let at = from; at < to; at += 64 * 1024) yield data.subarray(at, Math.min(at + 64 * 1024, to));
}

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await work();
  return [result, (performance.now() - start) / 1000];
}

const endpoint = await ensureSwift();
if (!endpoint) throw new Error('Swift is not available');
const client = s3Client(endpoint);
const bucket = await createBucket(client);
const store = new S3BlobStore({ ...endpoint, bucket });
const data = randomBytes(total);
const digest = createHash('sha256').update(data).digest('hex');

try {
  for (let round = 1; round <= rounds; round++) {
    for (const writeSize of [total, 16 * MiB]) {
      const key = `uploads/r${round}-${writeSize}`;
      const [, write] = await timed(async () => {
        for (let offset = 0; offset < total; offset += writeSize) {
          await store.write(key, chunks(data, offset, Math.min(offset + writeSize, total)), offset);
        }
      });
      const [, commit] = await timed(() => store.commit(key, `blobs/${key}`));
      const [readDigest, read] = await timed(async () => {
        const hash = createHash('sha256');
        for await (const chunk of await store.read(`blobs/${key}`)) hash.update(chunk as Uint8Array);
        return hash.digest('hex');
      });
      if (readDigest !== digest) throw new Error('read back different bytes');
      const mib = total / MiB;
      const label = writeSize === total ? '1 write' : `${total / writeSize} writes of ${writeSize / MiB} MiB`;
      console.log(
        `round ${round}: ${mib} MiB in ${label}: write ${write.toFixed(2)} s (${(mib / write).toFixed(0)} MiB/s), ` +
          `commit ${commit.toFixed(2)} s, total ${(write + commit).toFixed(2)} s; read ${read.toFixed(2)} s`,
      );
      await store.delete(`blobs/${key}`);
    }
  }
} finally {
  store.destroy();
  await deleteBucket(client, bucket);
  client.destroy();
}
