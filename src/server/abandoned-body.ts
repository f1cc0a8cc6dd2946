import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';

/**
 * Keeps a keep-alive connection usable after a request was answered before its body was read to the end.
 *
 * A handler that refuses a request mid-body (a manifest past its size cap, a chunk longer than its
 * Content-Range, a form too large, a store failing mid-write) stops reading by destroying the request stream:
 * `for await` and `pipeline` do that on a throw. Node then detaches the request from its socket but leaves
 * the HTTP parser feeding it; the parser's next push into the destroyed stream fails, which stops reading the
 * socket for good. The answer goes out, the client reuses the connection for its next request, and that
 * request is never read: it hangs until the idle timeout (seen in the fuzz run as a 414 with no answer in
 * 30 s, behind a 413 on the same connection). Node discards the rest of a body nobody read (`_dump`, in the
 * response's `finish`), but not of one somebody began to read.
 *
 * Here, once the response has finished, the rest of any such body is discarded the way Node discards an
 * unread one, and the socket reads on, so the next request on the connection is answered.
 */
export function discardAbandonedBodies(server: HttpServer | HttpsServer): void {
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    // The stream's destruction clears `request.socket`: keep it now.
    const socket = request.socket;
    // Node's own 'finish' listener (which dumps unread bodies and detaches the socket) was added first.
    response.once('finish', () => {
      if (request.complete || socket.destroyed) return;
      const dump = (request as { _dump?: () => void })._dump;
      if (typeof dump !== 'function') {
        // Cannot drain it: closing beats a connection that silently reads nothing more.
        socket.destroy();
        return;
      }
      dump.call(request);
      socket.resume();
    });
  });
}
