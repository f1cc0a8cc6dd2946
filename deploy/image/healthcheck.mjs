// The image's HEALTHCHECK: exits 0 when this container's Berth answers GET /healthz with 200, 1 otherwise.
// The image has no shell and no curl, so node asks. Port and scheme follow the same BERTH_* variables as the
// server; a certificate for the public name is not checked against 127.0.0.1.
import { request as http } from 'node:http';
import { request as https } from 'node:https';

const port = Number(process.env.BERTH_HTTP_PORT || 5000);
const tls = Boolean(process.env.BERTH_HTTP_TLS_CERT);
const request = (tls ? https : http)(
  { host: '127.0.0.1', port, path: '/healthz', method: 'GET', timeout: 4000, rejectUnauthorized: false },
  (response) => {
    response.resume();
    process.exit(response.statusCode === 200 ? 0 : 1);
  },
);
request.on('timeout', () => request.destroy(new Error('timed out')));
request.on('error', (error) => {
  process.stderr.write(`healthcheck: ${error.message}\n`);
  process.exit(1);
});
request.end();
