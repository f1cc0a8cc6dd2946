import { randomBytes } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { inventoryImage } from '../../../../src/scanning/inventory/index.js';
import { MEDIA } from '../../../fixtures/scanning/layers.js';

const MiB = 1024 * 1024;
const FILE_BYTES = 40 * MiB;
const FILES = 5; // 200 MiB of incompressible bytes in all

/** A gzip layer of FILES random files plus a dpkg status file, produced as a stream: never whole in memory. */
function generatedLayer(): Readable {
  const archive = pack();
  (async () => {
    for (let i = 0; i < FILES; i++) {
      const entry = archive.entry({ name: `data/blob${i}`, size: FILE_BYTES });
      const block = randomBytes(MiB); // random, so gzip cannot shrink it; reused, so generating costs nothing
      for (let written = 0; written < FILE_BYTES; written += block.length) {
        if (!entry.write(block)) await new Promise<void>((resolve) => entry.once('drain', () => resolve()));
      }
      await new Promise<void>((resolve, reject) =>
        entry.end((error?: Error | null) => (error ? reject(error) : resolve())),
      );
    }
    archive.entry(
      { name: 'var/lib/dpkg/status' },
      'Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13\n\n',
    );
    archive.finalize();
  })().catch((error: Error) => archive.destroy(error));
  const out = new PassThrough();
  pipeline(archive as unknown as Readable, createGzip({ level: 1 }), out).catch((error: Error) =>
    out.destroy(error),
  );
  return out;
}

describe('walking a 200 MiB gzip layer', () => {
  it('keeps memory flat (RSS growth well under 64 MiB) and reports throughput', async () => {
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    let compressed = 0;
    const started = process.hrtime.bigint();
    const inventory = await inventoryImage({
      subject: `sha256:${'2'.repeat(64)}`,
      config: Buffer.from('{}'),
      layers: [{ digest: `sha256:${'3'.repeat(64)}`, mediaType: MEDIA.gzip, size: 0 }],
      async openLayer() {
        const layer = generatedLayer();
        layer.on('data', (chunk: Buffer) => {
          compressed += chunk.length;
        });
        layer.pause();
        return layer;
      },
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(inventory.problems).toEqual([]);
    expect(inventory.packages.map((p) => p.name)).toEqual(['zlib1g']);
    expect(compressed).toBeGreaterThan(FILES * FILE_BYTES); // it really was incompressible
    const growth = (peak - before) / MiB;
    // Includes generating and gzipping the layer in the same process; reported, not asserted (the machine is shared).
    console.log(
      `walked ${((FILES * FILE_BYTES) / MiB).toFixed(0)} MiB of tar (${(compressed / MiB).toFixed(0)} MiB gzip) in ${seconds.toFixed(2)} s ` +
        `(${((FILES * FILE_BYTES) / MiB / seconds).toFixed(0)} MiB/s including generation); RSS growth ${growth.toFixed(1)} MiB`,
    );
    expect(growth).toBeLessThan(64);
  });
});
