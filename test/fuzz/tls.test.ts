// Issue 16, TLS settings: Berth serving HTTPS itself refuses TLS 1.0/1.1 and ciphers without forward secrecy
// or AEAD, serves TLS 1.2 (a strong suite) and 1.3, and sends HSTS — checked with node:tls and with openssl
// s_client, a real TLS client of its own (apt: openssl).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpsBerth, type TestBerth } from '../helpers/server.js';

const OPENSSL = spawnSync('openssl', ['version']).status === 0;
if (!OPENSSL)
  console.warn(
    '!!! SKIPPING the TLS tests: openssl (certificates, s_client) is not installed: apt-get install openssl !!!',
  );

const dir = mkdtempSync(join(tmpdir(), 'berth-tls-'));
let berth: TestBerth;

beforeAll(async () => {
  if (!OPENSSL) return;
  berth = await startHttpsBerth(dir);
});

afterAll(async () => {
  await berth?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The negotiated protocol and cipher, or the handshake's error. */
function handshake(options: {
  maxVersion?: 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  minVersion?: 'TLSv1' | 'TLSv1.2' | 'TLSv1.3';
  ciphers?: string;
}) {
  return new Promise<{ protocol: string | null; cipher: string } | { error: string }>((resolve) => {
    const socket = connect(
      { host: '127.0.0.1', port: berth.port, rejectUnauthorized: false, ...options },
      () => {
        resolve({ protocol: socket.getProtocol(), cipher: socket.getCipher().name });
        socket.end();
      },
    );
    socket.on('error', (error) => resolve({ error: error.message }));
  });
}

describe.skipIf(!OPENSSL)('TLS served by Berth', () => {
  it('refuses TLS 1.1 and older', async () => {
    // OpenSSL's default security level forbids TLS < 1.2 on the client too: lower it to really offer 1.1.
    expect(
      await handshake({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
    ).toHaveProperty('error');
  });

  it('refuses a TLS 1.2 cipher without AEAD (CBC) or without forward secrecy (static RSA)', async () => {
    for (const cipher of ['ECDHE-RSA-AES128-SHA', 'AES128-GCM-SHA256', 'AES256-SHA256']) {
      expect(await handshake({ maxVersion: 'TLSv1.2', ciphers: cipher }), cipher).toHaveProperty('error');
    }
  });

  it('serves TLS 1.2 with ECDHE and AES-GCM, and TLS 1.3', async () => {
    expect(await handshake({ maxVersion: 'TLSv1.2' })).toEqual({
      protocol: 'TLSv1.2',
      cipher: 'ECDHE-RSA-AES128-GCM-SHA256',
    });
    expect(await handshake({ minVersion: 'TLSv1.3' })).toMatchObject({ protocol: 'TLSv1.3' });
  });

  it('sends HSTS over TLS', async () => {
    const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      request({ host: '127.0.0.1', port: berth.port, path: '/v2/', rejectUnauthorized: false }, (res) => {
        res.resume();
        resolve(res.headers);
      })
        .on('error', reject)
        .end();
    });
    expect(headers['strict-transport-security']).toBe('max-age=31536000');
  });

  it('openssl s_client: -tls1_1 fails, -tls1_2 connects with an AEAD suite', async () => {
    // Asynchronously: the server under test runs in this process.
    const client = (...args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${berth.port}`, ...args]);
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk) => (stdout += chunk));
        child.stderr.on('data', (chunk) => (stderr += chunk));
        child.stdin.end();
        child.on('close', (status) => resolve({ status, stdout, stderr }));
      });
    const old = await client('-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0');
    expect(old.status).not.toBe(0);
    const modern = await client('-tls1_2');
    expect(modern.status, modern.stderr).toBe(0);
    expect(modern.stdout).toMatch(/Protocol\s*:\s*TLSv1\.2/);
    expect(modern.stdout).toMatch(/Cipher\s*:\s*ECDHE-RSA-AES(128|256)-GCM-SHA(256|384)/);
  });
});
