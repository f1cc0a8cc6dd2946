// The audit stream against a real Berth: every audit event of generated traffic (logins, pushes, pulls,
// refusals, API changes) is one valid JSON line in the file, and one RFC 5424 message at a real UDP socket and
// over a real TCP connection (octet-counted), in the same order as the audit log; logrotate's rename + SIGHUP
// and size rotation lose no line; a stuck sink drops and counts instead of holding anyone up. `berth audit
// anomalies` lists findings.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuditStream,
  auditJsonLine,
  FileSink,
  parseSyslogMessage,
  type StreamSink,
} from '../../src/events/audit-stream/index.js';
import type { AuditEvent } from '../../src/events/index.js';
import { runCli } from '../helpers/cli.js';
import { OciClient, type RequestOptions } from '../helpers/oci-client.js';
import { startBerth, type TestBerth } from '../helpers/server.js';

const ADMIN_PASSWORD = 'admin-password-stream';
const KEYS = [
  'time',
  'host',
  'service',
  'actor',
  'actorKind',
  'action',
  'resource',
  'result',
  'sourceIp',
  'userAgent',
  'detail',
  'repository',
  'project',
];
/** RFC 5424 §6: PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]. */
const RFC5424 =
  /^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z) ([\x21-\x7e]{1,255}) ([\x21-\x7e]{1,48}) ([\x21-\x7e]{1,128}) ([\x21-\x7e]{1,32}) (-|\[[^\]]+\]) (.*)$/s;

const basic = (username: string, password: string) =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

class AdminClient extends OciClient {
  override request(method: string, path: string, opts: RequestOptions = {}) {
    return super.request(method, path, {
      ...opts,
      headers: { authorization: basic('admin', ADMIN_PASSWORD), ...opts.headers },
    });
  }
}

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Every audit event, oldest first. */
async function auditTrail(berth: TestBerth): Promise<AuditEvent[]> {
  return (await berth.berth.audit.query({ limit: 10_000 })).reverse();
}

async function lines(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n');
}

describe('audit stream of a real Berth', () => {
  let dir: string;
  let berth: TestBerth;
  let udp: UdpSocket;
  const datagrams: string[] = [];
  let admin: AdminClient;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-audit-stream-'));
    udp = createSocket('udp4');
    udp.on('message', (message) => datagrams.push(message.toString()));
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    process.env.BERTH_ADMIN_PASSWORD = ADMIN_PASSWORD;
    try {
      berth = await startBerth({
        config: {
          'auth.enabled': true,
          'audit.stream.file': join(dir, 'audit.log'),
          'audit.stream.syslog': `127.0.0.1:${udp.address().port}`,
          'audit.stream.syslogFacility': 'local3',
        },
      });
    } finally {
      delete process.env.BERTH_ADMIN_PASSWORD;
    }
    admin = new AdminClient(berth.url);
  });

  afterAll(async () => {
    await berth?.close();
    udp?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes one JSON line per audit event, and sends one RFC 5424 datagram per event, in order', async () => {
    // Generated traffic: pushes and pulls, a refused pull, wrong credentials, API changes.
    await berth.berth.accounts.createProject({ name: 'team' });
    for (const repository of ['team/a', 'team/b', 'library/c']) {
      await admin.pushRandomImage(repository, 'v1');
      for (let i = 0; i < 3; i++) {
        const res = await admin.get(`/v2/${repository}/manifests/v1`, {
          accept: 'application/vnd.oci.image.manifest.v1+json',
        });
        expect(res.status).toBe(200);
        await res.arrayBuffer();
      }
    }
    const anonymous = await fetch(`${berth.url}/v2/team/a/manifests/v1`);
    expect(anonymous.status).toBe(401);
    const wrong = await fetch(`${berth.url}/token?service=berth`, {
      headers: { authorization: basic('mallory', 'guess') },
    });
    expect(wrong.status).toBe(401);
    const created = await admin.request('POST', '/api/v1/users', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'dana', password: 'dana password 1' }),
    });
    expect(created.status).toBe(201);

    await berth.berth.audit.flush();
    await berth.berth.auditStream.flush();
    const trail = await auditTrail(berth);
    expect(trail.length).toBeGreaterThanOrEqual(12);
    expect(new Set(trail.map((e) => e.action))).toEqual(new Set(['login', 'push', 'pull', 'user.create']));

    const fileLines = await lines(join(dir, 'audit.log'));
    expect(fileLines).toHaveLength(trail.length);
    const records = fileLines.map((line) => JSON.parse(line) as Record<string, string | null>);
    for (const [i, record] of records.entries()) {
      const event = trail[i] as AuditEvent;
      expect(Object.keys(record)).toEqual(KEYS);
      expect(record).toMatchObject({
        time: new Date(event.time).toISOString(),
        service: 'berth',
        actor: event.actor,
        actorKind: event.actorKind,
        action: event.action,
        resource: event.resource,
        result: event.result,
        sourceIp: event.sourceIp,
        userAgent: event.userAgent,
        detail: event.detail,
      });
    }
    const pull = records.find((r) => r.action === 'pull' && r.resource === 'team/b:v1');
    expect(pull).toMatchObject({ repository: 'team/b', project: 'team', actor: 'admin' });
    expect(records.find((r) => r.action === 'user.create')).toMatchObject({
      repository: null,
      project: null,
    });
    expect(records.find((r) => r.actor === 'mallory')).toMatchObject({ action: 'login', result: 'failure' });

    await until(() => datagrams.length >= trail.length, `${trail.length} syslog datagrams`);
    expect(datagrams).toHaveLength(trail.length);
    for (const [i, datagram] of datagrams.entries()) {
      const match = RFC5424.exec(datagram);
      expect(match, datagram).not.toBeNull();
      const parsed = parseSyslogMessage(datagram);
      const event = trail[i] as AuditEvent;
      expect(parsed?.facility).toBe(19); // local3
      expect(parsed?.severity).toBe(event.result === 'failure' ? 5 : 6);
      expect(parsed).toMatchObject({ appName: 'berth', msgId: event.action });
      expect(parsed?.structuredData).toBe(`[meta sequenceId="${i + 1}"]`);
      expect(parsed?.msg).toBe(fileLines[i]);
    }

    const metrics = await (await fetch(`${berth.url}/metrics`)).text();
    expect(metrics).toContain(`berth_audit_stream_events_total{sink="file"} ${trail.length}`);
    expect(metrics).toContain(`berth_audit_stream_events_total{sink="syslog"} ${trail.length}`);
    expect(metrics).not.toMatch(/berth_audit_stream_dropped_total\{[^}]*\} [1-9]/);
  });

  it('keeps every line across a logrotate-style rename and SIGHUP reopen', async () => {
    const path = join(dir, 'audit.log');
    const before = (await lines(path)).length;
    await rename(path, `${path}.1`);
    berth.berth.auditStream.reopen();
    for (let i = 0; i < 5; i++) {
      berth.berth.audit.record({
        actor: 'admin',
        actorKind: 'user',
        action: 'pull',
        resource: `team/a:${i}`,
        result: 'success',
      });
    }
    await berth.berth.auditStream.flush();
    expect(await lines(`${path}.1`)).toHaveLength(before);
    const after = await lines(path);
    expect(after.map((line) => JSON.parse(line).resource)).toEqual([0, 1, 2, 3, 4].map((i) => `team/a:${i}`));
  });

  it('lists findings with berth audit anomalies', async () => {
    const time = Date.now();
    await berth.berth.anomalies.store.insert({
      time,
      kind: 'failed-logins-address',
      subject: '203.0.113.7',
      project: null,
      windowStart: time - 900_000,
      count: 21,
      summary: '21 failed logins from 203.0.113.7 in 15 min (4 accounts)',
      details: { failures: 21 },
    });
    const env = { BERTH_SERVER: berth.url, BERTH_USER: 'admin', BERTH_PASSWORD: ADMIN_PASSWORD };
    const table = await runCli(['audit', 'anomalies', '--since', '1h'], { env });
    expect(table.stderr).toBe('');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ID\s+TIME\s+KIND\s+SUBJECT\s+COUNT\s+SUMMARY/);
    expect(table.stdout).toContain('failed-logins-address  203.0.113.7');
    const json = await runCli(['audit', 'anomalies', '--kind', 'mass-pull', '--json'], { env });
    expect(json).toMatchObject({ code: 0, stdout: '' });
  });
});

describe('audit stream sinks', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-audit-sinks-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const event = (i: number) => ({
    time: Date.UTC(2026, 0, 1) + i,
    actor: 'dana',
    actorKind: 'user' as const,
    action: 'pull',
    resource: `team/app:${i}`,
    result: 'success' as const,
  });

  it('rotates by size into path.1 … path.N and keeps every line of the last N+1 files whole', async () => {
    const path = join(dir, 'rotating.log');
    const sink = new FileSink(path, { maxBytes: 2000, maxFiles: 3 });
    const written: string[] = [];
    for (let batch = 0; batch < 12; batch++) {
      const batchLines = [0, 1, 2].map((i) => auditJsonLine(event(batch * 3 + i), 'node1'));
      written.push(...batchLines);
      await sink.write(batchLines);
    }
    await sink.close();
    const files = (await readdir(dir)).filter((name) => name.startsWith('rotating.log')).sort();
    expect(files).toEqual(['rotating.log', 'rotating.log.1', 'rotating.log.2', 'rotating.log.3']);
    const kept: string[] = [];
    for (const name of [...files.slice(1)].reverse().concat('rotating.log')) {
      const content = await lines(join(dir, name));
      expect(Buffer.byteLength(`${content.join('\n')}\n`)).toBeLessThanOrEqual(2000);
      kept.push(...content);
    }
    // The newest lines, contiguous and in order (the oldest file fell off the end).
    expect(kept).toEqual(written.slice(written.length - kept.length));
    for (const line of kept) expect(JSON.parse(line)).toHaveProperty('actor', 'dana');
  });

  it('sends octet-counted RFC 5424 frames over TCP (RFC 6587)', async () => {
    let received = '';
    const server = createServer((socket) => socket.on('data', (chunk) => (received += chunk.toString())));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const stream = new AuditStream({
      syslog: { address: `127.0.0.1:${port}`, protocol: 'tcp', facility: 'auth' },
      host: 'node1',
    });
    for (let i = 0; i < 50; i++) stream.write(event(i));
    await stream.flush();
    const frames: string[] = [];
    await until(() => {
      frames.length = 0;
      let rest = received;
      while (rest.length > 0) {
        const space = rest.indexOf(' ');
        const length = Number(rest.slice(0, space));
        const bytes = Buffer.from(rest.slice(space + 1));
        if (bytes.length < length) return false;
        frames.push(bytes.subarray(0, length).toString());
        rest = bytes.subarray(length).toString();
      }
      return frames.length === 50;
    }, '50 TCP frames');
    for (const [i, frame] of frames.entries()) {
      expect(RFC5424.test(frame), frame).toBe(true);
      expect(parseSyslogMessage(frame)).toMatchObject({ facility: 4, severity: 6, hostname: 'node1' });
      expect(JSON.parse(parseSyslogMessage(frame)?.msg ?? '')).toMatchObject({ resource: `team/app:${i}` });
    }
    await stream.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('drops and counts events when a sink is stuck, without making the caller wait', async () => {
    let writes = 0;
    const stuck: StreamSink = {
      name: 'stuck',
      write: () => {
        writes++;
        return new Promise<void>(() => {});
      },
      close: async () => {},
    };
    const dropped: number[] = [];
    const stream = new AuditStream({ bufferEvents: 100, onDropped: (_sink, count) => dropped.push(count) }, [
      stuck,
    ]);
    for (let i = 0; i < 1000; i++) stream.write(event(i));
    expect(stream.queued()).toEqual({ stuck: 100 });
    expect(dropped.reduce((a, b) => a + b, 0)).toBe(900);
    await until(() => writes === 1, 'the stuck write');
    // Closing gives up on the stuck sink after its grace period, counting what it never wrote.
    await stream.close(200);
    expect(dropped.reduce((a, b) => a + b, 0)).toBe(1000);
  });
});
