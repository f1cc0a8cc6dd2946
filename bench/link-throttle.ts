/**
 * A TCP relay in front of a server that passes its answers at most at `bytesPerSecond`, shared by every
 * connection: a stand-in for the link between a registry and a remote upstream (a 1 Gbit/s line is
 * 125 MB/s), which on loopback is otherwise many times faster than any real one. Requests pass unthrottled.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface Throttle {
  url: string;
  close(): Promise<void>;
}

export async function startThrottle(targetPort: number, bytesPerSecond: number): Promise<Throttle> {
  // The moment the shared link is free again (ms): each chunk takes its share of the line after the ones before.
  let freeAt = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    // Chunks wait their turn on the line in order; the end follows the last of them.
    let line = Promise.resolve();
    upstream.on('data', (chunk: Buffer) => {
      const now = performance.now();
      freeAt = Math.max(freeAt, now) + (chunk.length / bytesPerSecond) * 1000;
      const wait = freeAt - now;
      upstream.pause();
      line = line.then(async () => {
        // Below a millisecond timers cannot do better: the debt carries over to the next chunk.
        if (wait >= 1) await new Promise((resolve) => setTimeout(resolve, wait));
        if (!client.write(chunk)) await new Promise((resolve) => client.once('drain', resolve));
        upstream.resume();
      });
    });
    upstream.on('end', () => {
      line = line.then(() => {
        client.end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('throttle: no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
