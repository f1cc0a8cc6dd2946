import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIP, connect as netConnect, type Socket } from 'node:net';

/** Connecting to a TCP receiver gives up after this long (the batch is retried later). */
const CONNECT_TIMEOUT_MS = 5000;

/** `host:port`, `[v6]:port` → host and port; throws a message naming the setting when malformed. */
export function parseSyslogAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address.trim());
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65535) {
    throw new Error(`audit.stream.syslog: expected host:port (or [v6 address]:port), not '${address}'`);
  }
  return { host: (match[1] ?? match[2]) as string, port };
}

/**
 * Sends messages to a syslog receiver. UDP: one datagram per message (RFC 5426). TCP: octet-counting frames,
 * `LENGTH SP MESSAGE` (RFC 6587 §3.4.1), on one connection opened when first needed and again after it
 * breaks; a write the receiver does not take waits for it (the stream's bounded buffer absorbs that).
 */
export class SyslogSink {
  readonly name = 'syslog';
  private udp: UdpSocket | undefined;
  private tcp: Socket | undefined;
  private readonly host: string;
  private readonly port: number;

  constructor(
    address: string,
    private readonly protocol: 'udp' | 'tcp',
  ) {
    ({ host: this.host, port: this.port } = parseSyslogAddress(address));
  }

  async write(messages: string[]): Promise<void> {
    if (this.protocol === 'udp') {
      const socket = this.udpSocket();
      for (const message of messages) {
        await new Promise<void>((resolve, reject) =>
          socket.send(message, this.port, this.host, (error) => (error ? reject(error) : resolve())),
        );
      }
      return;
    }
    const socket = await this.tcpSocket();
    const frames = messages.map((message) => `${Buffer.byteLength(message)} ${message}`).join('');
    await new Promise<void>((resolve, reject) => {
      const failed = (error: Error) => reject(error);
      socket.once('error', failed);
      socket.write(frames, (error) => {
        socket.removeListener('error', failed);
        if (error) reject(error);
        else resolve();
      });
    }).catch((error: Error) => {
      this.dropTcp();
      throw error;
    });
  }

  async close(): Promise<void> {
    const udp = this.udp;
    this.udp = undefined;
    if (udp) await new Promise<void>((resolve) => udp.close(() => resolve()));
    const tcp = this.tcp;
    this.tcp = undefined;
    if (tcp && !tcp.destroyed) {
      await new Promise<void>((resolve) => {
        tcp.once('close', () => resolve());
        tcp.end();
        // A receiver that does not take the rest: do not wait for it.
        setTimeout(() => tcp.destroy(), 1000).unref();
      });
    }
  }

  private udpSocket(): UdpSocket {
    if (!this.udp) {
      const socket = createSocket(isIP(this.host) === 6 ? 'udp6' : 'udp4');
      socket.on('error', () => {
        if (this.udp === socket) this.udp = undefined;
        socket.close();
      });
      socket.unref();
      this.udp = socket;
    }
    return this.udp;
  }

  private async tcpSocket(): Promise<Socket> {
    if (this.tcp && !this.tcp.destroyed) return this.tcp;
    const socket = netConnect({ host: this.host, port: this.port });
    socket.setKeepAlive(true);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`syslog receiver ${this.host}:${this.port} did not accept a connection in time`));
      }, CONNECT_TIMEOUT_MS);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    // A receiver that closes or breaks the connection: the next batch connects again.
    socket.on('error', () => this.dropTcp(socket));
    socket.on('close', () => this.dropTcp(socket));
    socket.unref();
    this.tcp = socket;
    return socket;
  }

  private dropTcp(socket = this.tcp): void {
    socket?.destroy();
    if (this.tcp === socket) this.tcp = undefined;
  }
}
