import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';

/**
 * The connections of an HTTP(S) server and their responses, so that a graceful close ends each connection
 * exactly when it has nothing left to send.
 *
 * Node's `server.closeIdleConnections()` — which `server.close()` itself calls, and Fastify's close too —
 * counts a connection as idle once its response has been *ended* (`res.finished`), although the response's
 * last bytes may still wait in the socket's buffers for a slow reader (a paused client, a busy machine: a
 * manifest sent with one `end(buffer)`, the tail of a blob stream). Destroying such a connection cuts the
 * download short: the client sees `aborted`. This replaces it, on this server, with one that counts a
 * response as done only when it has closed (after `finish`: every byte handed to the kernel), and, once
 * `startDraining()` was called, ends each remaining connection as soon as its last response is done.
 */
export class ConnectionDrain {
  /** Every open connection, with how many of its responses are not done yet. */
  private readonly open = new Map<Socket, number>();
  private draining = false;

  constructor(server: HttpServer | HttpsServer) {
    // Over TLS, requests arrive on the TLS socket, which 'secureConnection' gives (as for Node's own list).
    const event = server instanceof TlsServer ? 'secureConnection' : 'connection';
    server.on(event, (socket: Socket) => {
      this.open.set(socket, 0);
      socket.once('close', () => this.open.delete(socket));
    });
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      const socket = request.socket;
      const pending = this.open.get(socket);
      if (pending === undefined) return;
      this.open.set(socket, pending + 1);
      response.once('close', () => this.responseDone(socket));
    });
    server.closeIdleConnections = () => this.closeIdle();
  }

  /** From now on, a connection is closed as soon as it has no response left to send; idle ones at once. */
  startDraining(): void {
    this.draining = true;
    this.closeIdle();
  }

  private closeIdle(): void {
    for (const [socket, pending] of this.open) if (pending === 0) socket.destroy();
  }

  private responseDone(socket: Socket): void {
    const pending = this.open.get(socket);
    if (pending === undefined) return; // the connection is gone already
    this.open.set(socket, pending - 1);
    if (this.draining && pending === 1) socket.destroy();
  }
}
