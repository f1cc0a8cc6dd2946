import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type Config,
  ConfigError,
  envName,
  type LoadOptions,
  loadConfig,
  maskSecrets,
  TLS_CIPHERS,
} from '../../src/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-config-test-'));
let files = 0;

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a YAML config file and returns its path. */
function yamlFile(text: string): string {
  const path = join(dir, `berth-${++files}.yaml`);
  writeFileSync(path, text);
  return path;
}

function configError(options: LoadOptions): ConfigError {
  let caught: unknown;
  try {
    loadConfig(options);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  return caught as ConfigError;
}

const S3_DEFAULTS: Config['storage']['s3'] = {
  endpoint: '',
  region: 'us-east-1',
  bucket: '',
  prefix: '',
  forcePathStyle: false,
  accessKeyId: '',
  secretAccessKey: '',
  redirect: false,
  redirectExpirySeconds: 600,
  createBucket: true,
  connectTimeoutSeconds: 5,
  requestTimeoutSeconds: 120,
  readBufferBytes: 64 * 1024 * 1024,
};

const AUTH_DEFAULTS: Config['auth'] = {
  enabled: true,
  service: 'berth',
  realm: '',
  tokenTtlSeconds: 300,
  anonymousPull: true,
  usersCanCreateProjects: false,
  maxLoginFailures: 10,
  loginWindowSeconds: 300,
  trustedProxies: '',
  ldap: {
    url: '',
    bindDN: '',
    bindPassword: '',
    userBase: '',
    userFilter: '(uid={username})',
    groupBase: '',
    groupFilter: '(member={dn})',
    startTLS: false,
  },
  oidc: {
    issuer: '',
    clientId: '',
    clientSecret: '',
    scopes: 'openid profile email groups',
    usernameClaim: 'preferred_username',
    groupsClaim: 'groups',
    adminGroup: '',
    redirectBaseUrl: '',
    loginTimeoutSeconds: 600,
    allowInsecureHttp: false,
  },
};

const DEFAULTS: Config = {
  dataDir: './data',
  http: {
    host: '0.0.0.0',
    port: 5000,
    tlsCert: '',
    tlsKey: '',
    shutdownTimeoutSeconds: 30,
    headersTimeoutSeconds: 20,
    idleTimeoutSeconds: 120,
    tlsMinVersion: 'TLSv1.2',
    tlsCiphers: TLS_CIPHERS,
  },
  workers: 1,
  storage: {
    driver: 'filesystem',
    root: './data',
    capacityBytes: 0,
    warnPercent: 85,
    s3: S3_DEFAULTS,
    cdn: { baseUrl: '', signing: 'none', secret: '', expirySeconds: 600 },
  },
  metadata: { url: `sqlite:${join('./data', 'berth.db')}`, poolSize: 10 },
  uploads: { ttlSeconds: 86400, purgeIntervalSeconds: 600, leaseSeconds: 10 },
  manifests: { maxBytes: 4 * 1024 * 1024, cacheBytes: 64 * 1024 * 1024 },
  scanning: { concurrency: 1, pollSeconds: 5, staleAfterDays: 7, registryUrl: '' },
  limits: {
    connectionsPerAddress: 256,
    uploadsPerUser: 64,
    windowSeconds: 60,
    apiRequestsPerAddress: 3000,
    apiRequestsPerUser: 1200,
    tokenRequestsPerAddress: 1200,
    tokenRequestsPerUser: 600,
  },
  deletes: { enabled: true },
  auth: AUTH_DEFAULTS,
  gc: { graceSeconds: 3600, schedule: '', untagged: true },
  scrub: { schedule: '', rateBytesPerSecond: 0, quarantine: false },
  webhooks: {
    secretKey: '',
    registryHost: '',
    timeoutSeconds: 10,
    maxAttempts: 8,
    maxFailures: 10,
    retrySeconds: 5,
    pollSeconds: 1,
    denyPrivateAddresses: true,
    allowedHosts: [],
    deniedHosts: [],
  },
  backup: {
    s3: { endpoint: '', region: 'us-east-1', forcePathStyle: false, accessKeyId: '', secretAccessKey: '' },
  },
  replication: { secretKey: '', previousSecretKeys: '', uploadChunkBytes: 64 * 1024 * 1024 },
  proxy: { tagTtlSeconds: 300, upstreamTimeoutSeconds: 20, fillWaitSeconds: 120, mirrorProject: '' },
  audit: {
    retentionDays: 90,
    stream: {
      file: '',
      fileMaxBytes: 0,
      fileMaxFiles: 5,
      syslog: '',
      syslogProtocol: 'udp',
      syslogFacility: 'local0',
      bufferEvents: 10_000,
    },
    anomalies: {
      enabled: true,
      intervalSeconds: 60,
      cooldownMinutes: 60,
      massPull: {
        enabled: true,
        windowMinutes: 60,
        lookbackWeeks: 4,
        minPulls: 100,
        volumeFactor: 10,
        offHoursFactor: 3,
        minHistoryDays: 14,
        minHistoryPulls: 50,
      },
      failedLogins: { enabled: true, windowMinutes: 15, perAccount: 10, perAddress: 20 },
      robotSweep: { enabled: true, windowMinutes: 60, percent: 80, minRepositories: 3, lookbackDays: 30 },
    },
  },
  log: { level: 'info' },
};

describe('envName', () => {
  it.each<[string[], string]>([
    [['dataDir'], 'BERTH_DATA_DIR'],
    [['http', 'host'], 'BERTH_HTTP_HOST'],
    [['http', 'port'], 'BERTH_HTTP_PORT'],
    [['http', 'tlsCert'], 'BERTH_HTTP_TLS_CERT'],
    [['http', 'tlsKey'], 'BERTH_HTTP_TLS_KEY'],
    [['http', 'shutdownTimeoutSeconds'], 'BERTH_HTTP_SHUTDOWN_TIMEOUT_SECONDS'],
    [['storage', 'driver'], 'BERTH_STORAGE_DRIVER'],
    [['storage', 'root'], 'BERTH_STORAGE_ROOT'],
    [['metadata', 'url'], 'BERTH_METADATA_URL'],
    [['uploads', 'ttlSeconds'], 'BERTH_UPLOADS_TTL_SECONDS'],
    [['uploads', 'purgeIntervalSeconds'], 'BERTH_UPLOADS_PURGE_INTERVAL_SECONDS'],
    [['manifests', 'maxBytes'], 'BERTH_MANIFESTS_MAX_BYTES'],
    [['deletes', 'enabled'], 'BERTH_DELETES_ENABLED'],
    [['log', 'level'], 'BERTH_LOG_LEVEL'],
  ])('%j → %s', (path, name) => {
    expect(envName(path)).toBe(name);
  });
});

describe('loadConfig: defaults and derived settings', () => {
  it.each<[string, LoadOptions | undefined]>([
    ['no options', undefined],
    ['empty options', {}],
    ['an empty file', { file: yamlFile('') }],
    ['a file of comments only', { file: yamlFile('# nothing here\n') }],
    ['an unrelated environment', { env: { PATH: '/usr/bin', HOME: '/root' } }],
    ['an empty file name', { file: '' }],
  ])('returns the defaults for %s', (_label, options) => {
    expect(loadConfig(options)).toEqual(DEFAULTS);
  });

  it.each<[string, LoadOptions, { dataDir: string; storage: object; metadata: object }]>([
    [
      'dataDir from the file',
      { file: yamlFile('dataDir: /srv/berth\n') },
      {
        dataDir: '/srv/berth',
        storage: { driver: 'filesystem', root: '/srv/berth' },
        metadata: { url: 'sqlite:/srv/berth/berth.db' },
      },
    ],
    [
      'dataDir from the environment',
      { env: { BERTH_DATA_DIR: '/var/lib/berth' } },
      {
        dataDir: '/var/lib/berth',
        storage: { driver: 'filesystem', root: '/var/lib/berth' },
        metadata: { url: 'sqlite:/var/lib/berth/berth.db' },
      },
    ],
    [
      'explicit storage.root and metadata.url',
      { file: yamlFile('dataDir: /d\nstorage:\n  root: /blobs\nmetadata:\n  url: sqlite:/db/x.db\n') },
      {
        dataDir: '/d',
        storage: { driver: 'filesystem', root: '/blobs' },
        metadata: { url: 'sqlite:/db/x.db' },
      },
    ],
    [
      'explicit storage.root only',
      { overrides: { dataDir: '/d', 'storage.root': '/blobs' } },
      {
        dataDir: '/d',
        storage: { driver: 'filesystem', root: '/blobs' },
        metadata: { url: 'sqlite:/d/berth.db' },
      },
    ],
  ])('derives storage.root and metadata.url: %s', (_label, options, expected) => {
    const config = loadConfig(options);
    expect({
      dataDir: config.dataDir,
      storage: { driver: config.storage.driver, root: config.storage.root },
      metadata: { url: config.metadata.url },
    }).toEqual(expected);
  });
});

describe('loadConfig: YAML file', () => {
  it('reads every section', () => {
    const file = yamlFile(
      [
        'dataDir: /srv/berth',
        'http:',
        '  host: 127.0.0.1',
        '  port: 5001',
        '  tlsCert: /tls/cert.pem',
        '  tlsKey: /tls/key.pem',
        '  shutdownTimeoutSeconds: 5',
        'workers: 2',
        'storage:',
        '  driver: filesystem',
        '  capacityBytes: 5000000000',
        '  warnPercent: 90',
        '  s3:',
        '    bucket: layers',
        '    forcePathStyle: true',
        '  cdn:',
        '    baseUrl: https://cdn.example/registry',
        '    signing: nginx-secure-link',
        '    secret: shared-with-the-edge',
        '    expirySeconds: 300',
        'metadata:',
        '  poolSize: 4',
        'uploads:',
        '  ttlSeconds: 3600',
        '  purgeIntervalSeconds: 60',
        'manifests:',
        '  maxBytes: 1048576',
        '  cacheBytes: 0',
        'deletes:',
        '  enabled: false',
        'log:',
        '  level: debug',
        '',
      ].join('\n'),
    );
    expect(loadConfig({ file })).toEqual({
      dataDir: '/srv/berth',
      http: {
        host: '127.0.0.1',
        port: 5001,
        tlsCert: '/tls/cert.pem',
        tlsKey: '/tls/key.pem',
        shutdownTimeoutSeconds: 5,
        headersTimeoutSeconds: DEFAULTS.http.headersTimeoutSeconds,
        idleTimeoutSeconds: DEFAULTS.http.idleTimeoutSeconds,
        tlsMinVersion: DEFAULTS.http.tlsMinVersion,
        tlsCiphers: DEFAULTS.http.tlsCiphers,
      },
      workers: 2,
      storage: {
        driver: 'filesystem',
        root: '/srv/berth',
        capacityBytes: 5_000_000_000,
        warnPercent: 90,
        s3: { ...S3_DEFAULTS, bucket: 'layers', forcePathStyle: true },
        cdn: {
          baseUrl: 'https://cdn.example/registry',
          signing: 'nginx-secure-link',
          secret: 'shared-with-the-edge',
          expirySeconds: 300,
        },
      },
      metadata: { url: 'sqlite:/srv/berth/berth.db', poolSize: 4 },
      uploads: { ttlSeconds: 3600, purgeIntervalSeconds: 60, leaseSeconds: 10 },
      manifests: { maxBytes: 1048576, cacheBytes: 0 },
      scanning: DEFAULTS.scanning,
      limits: DEFAULTS.limits,
      deletes: { enabled: false },
      auth: AUTH_DEFAULTS,
      gc: { graceSeconds: 3600, schedule: '', untagged: true },
      scrub: DEFAULTS.scrub,
      webhooks: DEFAULTS.webhooks,
      backup: DEFAULTS.backup,
      replication: DEFAULTS.replication,
      proxy: DEFAULTS.proxy,
      audit: DEFAULTS.audit,
      log: { level: 'debug' },
    });
  });

  it.each([
    ['a missing file', () => join(dir, 'does-not-exist.yaml'), /does-not-exist\.yaml/],
    ['invalid YAML', () => yamlFile('http: [\n'), /berth-\d+\.yaml/],
    ['a top-level list', () => yamlFile('- a\n- b\n'), /expected a mapping at the top level/],
    ['a top-level scalar', () => yamlFile('hello\n'), /expected a mapping at the top level/],
  ])('rejects %s, naming the file', (_label, makeFile, message) => {
    const file = makeFile();
    const error = configError({ file });
    expect(error.message).toContain(file);
    expect(error.message).toMatch(message);
  });
});

describe('loadConfig: environment', () => {
  it.each<[Record<string, string>, (c: Config) => unknown, unknown]>([
    [{ BERTH_HTTP_HOST: '127.0.0.1' }, (c) => c.http.host, '127.0.0.1'],
    [{ BERTH_HTTP_PORT: '5001' }, (c) => c.http.port, 5001],
    [{ BERTH_HTTP_PORT: '0' }, (c) => c.http.port, 0],
    [{ BERTH_HTTP_PORT: '65535' }, (c) => c.http.port, 65535],
    [{ BERTH_HTTP_SHUTDOWN_TIMEOUT_SECONDS: '7' }, (c) => c.http.shutdownTimeoutSeconds, 7],
    [
      { BERTH_HTTP_TLS_CERT: '/c.pem', BERTH_HTTP_TLS_KEY: '/k.pem' },
      (c) => [c.http.tlsCert, c.http.tlsKey],
      ['/c.pem', '/k.pem'],
    ],
    [{ BERTH_STORAGE_DRIVER: 'filesystem' }, (c) => c.storage.driver, 'filesystem'],
    [{ BERTH_STORAGE_ROOT: '/blobs' }, (c) => c.storage.root, '/blobs'],
    [{ BERTH_METADATA_URL: 'sqlite:/x.db' }, (c) => c.metadata.url, 'sqlite:/x.db'],
    [{ BERTH_UPLOADS_TTL_SECONDS: '60' }, (c) => c.uploads.ttlSeconds, 60],
    [{ BERTH_UPLOADS_PURGE_INTERVAL_SECONDS: '15' }, (c) => c.uploads.purgeIntervalSeconds, 15],
    [{ BERTH_MANIFESTS_MAX_BYTES: '1024' }, (c) => c.manifests.maxBytes, 1024],
    [{ BERTH_DELETES_ENABLED: 'false' }, (c) => c.deletes.enabled, false],
    [{ BERTH_DELETES_ENABLED: '0' }, (c) => c.deletes.enabled, false],
    [{ BERTH_DELETES_ENABLED: 'true' }, (c) => c.deletes.enabled, true],
    [{ BERTH_DELETES_ENABLED: '1' }, (c) => c.deletes.enabled, true],
    [{ BERTH_LOG_LEVEL: 'silent' }, (c) => c.log.level, 'silent'],
  ])('reads %j', (env, pick, expected) => {
    expect(pick(loadConfig({ env }))).toEqual(expected);
  });

  // An empty variable (`BERTH_HTTP_PORT=` in a unit file or compose file) must not silently mean "any port".
  it.each(['', ' '])('does not take BERTH_HTTP_PORT=%j as port 0', (value) => {
    let port: number | 'rejected';
    try {
      port = loadConfig({ env: { BERTH_HTTP_PORT: value } }).http.port;
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      port = 'rejected';
    }
    expect(port).not.toBe(0);
  });
});

describe('loadConfig: precedence defaults < file < environment < overrides', () => {
  const file = yamlFile('http:\n  host: 10.0.0.1\n  port: 5001\nlog:\n  level: warn\n');

  it.each<[string, LoadOptions, { host: string; port: number; level: string }]>([
    ['file over defaults', { file }, { host: '10.0.0.1', port: 5001, level: 'warn' }],
    [
      'environment over file',
      { file, env: { BERTH_HTTP_PORT: '5002' } },
      { host: '10.0.0.1', port: 5002, level: 'warn' },
    ],
    [
      'overrides over environment',
      { file, env: { BERTH_HTTP_PORT: '5002' }, overrides: { 'http.port': '5003' } },
      { host: '10.0.0.1', port: 5003, level: 'warn' },
    ],
    [
      'overrides over file',
      { file, overrides: { 'log.level': 'error' } },
      { host: '10.0.0.1', port: 5001, level: 'error' },
    ],
    [
      'numeric override',
      { overrides: { 'http.port': 6000 } },
      { host: '0.0.0.0', port: 6000, level: 'info' },
    ],
    [
      'undefined override ignored',
      { file, env: { BERTH_HTTP_PORT: '5002' }, overrides: { 'http.port': undefined } },
      { host: '10.0.0.1', port: 5002, level: 'warn' },
    ],
    [
      'environment over file, sibling keys of the file kept',
      { file, env: { BERTH_LOG_LEVEL: 'trace' } },
      { host: '10.0.0.1', port: 5001, level: 'trace' },
    ],
  ])('%s', (_label, options, expected) => {
    const config = loadConfig(options);
    expect({ host: config.http.host, port: config.http.port, level: config.log.level }).toEqual(expected);
  });

  it('does not modify the overrides or environment it is given', () => {
    const env = { BERTH_HTTP_PORT: '5002' };
    const overrides = { 'http.host': '::1' };
    loadConfig({ env, overrides });
    expect(env).toEqual({ BERTH_HTTP_PORT: '5002' });
    expect(overrides).toEqual({ 'http.host': '::1' });
  });
});

describe('loadConfig: errors name the key and its source', () => {
  it.each<[string, () => LoadOptions, string, RegExp]>([
    [
      'port out of range in the file',
      () => ({ file: yamlFile('http:\n  port: 70000\n') }),
      'http.port',
      /from file .*\.yaml/,
    ],
    [
      'non-numeric port in the environment',
      () => ({ env: { BERTH_HTTP_PORT: 'abc' } }),
      'http.port',
      /from environment BERTH_HTTP_PORT/,
    ],
    [
      'negative port from the command line',
      () => ({ overrides: { 'http.port': '-1' } }),
      'http.port',
      /from command line/,
    ],
    [
      'fractional port in the environment',
      () => ({ env: { BERTH_HTTP_PORT: '80.5' } }),
      'http.port',
      /BERTH_HTTP_PORT/,
    ],
    [
      'an upload chunk too small to be worth a request',
      () => ({ env: { BERTH_REPLICATION_UPLOAD_CHUNK_BYTES: '4096' } }),
      'replication.uploadChunkBytes',
      /BERTH_REPLICATION_UPLOAD_CHUNK_BYTES/,
    ],
    [
      'non-boolean deletes.enabled',
      () => ({ env: { BERTH_DELETES_ENABLED: 'yes' } }),
      'deletes.enabled',
      /BERTH_DELETES_ENABLED/,
    ],
    ['unknown log level', () => ({ env: { BERTH_LOG_LEVEL: 'verbose' } }), 'log.level', /BERTH_LOG_LEVEL/],
    [
      'unknown storage driver',
      () => ({ file: yamlFile('storage:\n  driver: gcs\n') }),
      'storage.driver',
      /from file/,
    ],
    [
      's3 without a bucket',
      () => ({ env: { BERTH_STORAGE_DRIVER: 's3' } }),
      'storage.s3.bucket',
      /needs a bucket/,
    ],
    [
      'half the s3 credentials',
      () => ({ overrides: { 'storage.s3.accessKeyId': 'AKIA' } }),
      'storage.s3.accessKeyId',
      /both/,
    ],
    [
      'a CDN that signs without a secret',
      () => ({
        env: {
          BERTH_STORAGE_CDN_BASE_URL: 'https://cdn.example',
          BERTH_STORAGE_CDN_SIGNING: 'nginx-secure-link',
        },
      }),
      'storage.cdn.baseUrl',
      /needs storage\.cdn\.secret/,
    ],
    [
      'a CDN URL with a query',
      () => ({ overrides: { 'storage.cdn.baseUrl': 'https://cdn.example/r?x=1' } }),
      'storage.cdn.baseUrl',
      /plain URL/,
    ],
    ['zero workers', () => ({ overrides: { workers: '0' } }), 'workers', /command line/],
    [
      'zero TTL',
      () => ({ env: { BERTH_UPLOADS_TTL_SECONDS: '0' } }),
      'uploads.ttlSeconds',
      /BERTH_UPLOADS_TTL_SECONDS/,
    ],
    [
      'fractional maxBytes',
      () => ({ overrides: { 'manifests.maxBytes': '1.5' } }),
      'manifests.maxBytes',
      /command line/,
    ],
    ['empty dataDir', () => ({ file: yamlFile("dataDir: ''\n") }), 'dataDir', /from file/],
    ['numeric host in the file', () => ({ file: yamlFile('http:\n  host: 5\n') }), 'http.host', /from file/],
    [
      'bad environment value over a good file value',
      () => ({ file: yamlFile('http:\n  port: 5001\n'), env: { BERTH_HTTP_PORT: 'x' } }),
      'http.port',
      /from environment BERTH_HTTP_PORT/,
    ],
  ])('%s', (_label, options, key, source) => {
    const error = configError(options());
    expect(error.message).toContain(`${key}:`);
    expect(error.message).toMatch(source);
  });

  it('reports every bad key at once', () => {
    const error = configError({ env: { BERTH_HTTP_PORT: 'abc', BERTH_LOG_LEVEL: 'loud' } });
    expect(error.message).toContain('http.port');
    expect(error.message).toContain('log.level');
  });

  it.each<[string, () => LoadOptions, string]>([
    ['top-level key in the file', () => ({ file: yamlFile('dataDri: /x\n') }), 'dataDri'],
    ['nested key in the file', () => ({ file: yamlFile('http:\n  prot: 5001\n') }), 'http.prot'],
    ['nested key from the command line', () => ({ overrides: { 'http.prot': '5001' } }), 'http.prot'],
    ['section from the command line', () => ({ overrides: { 'cache.size': '1' } }), 'cache'],
    [
      'two keys in one section',
      () => ({ file: yamlFile('log:\n  lvl: a\n  format: json\n') }),
      'log.lvl, log.format',
    ],
  ])('rejects an unknown %s, naming it', (_label, options, key) => {
    const error = configError(options());
    expect(error.message).toContain(key);
    expect(error.message).toMatch(/unrecognized/i);
  });

  // loadConfig promises "Errors name the bad key and its source" for unknown keys too.
  it.each<[string, () => LoadOptions, RegExp]>([
    [
      'nested key in the file',
      () => ({ file: yamlFile('http:\n  prot: 5001\n') }),
      /http\.prot: .*\(from file .*\.yaml\)/,
    ],
    [
      'top-level key in the file',
      () => ({ file: yamlFile('dataDri: /x\n') }),
      /dataDri: .*\(from file .*\.yaml\)/,
    ],
    [
      'nested key from the command line',
      () => ({ overrides: { 'http.prot': '5001' } }),
      /http\.prot: .*\(from command line\)/,
    ],
  ])('names the source of an unknown %s', (_label, options, message) => {
    expect(configError(options()).message).toMatch(message);
  });

  it.each<[string, LoadOptions]>([
    ['tlsCert without tlsKey', { overrides: { 'http.tlsCert': '/c.pem' } }],
    ['tlsKey without tlsCert', { env: { BERTH_HTTP_TLS_KEY: '/k.pem' } }],
    ['tlsCert in the file, no key anywhere', { file: yamlFile('http:\n  tlsCert: /c.pem\n') }],
  ])('rejects %s', (_label, options) => {
    const error = configError(options);
    expect(error.message).toContain('http.tlsCert');
    expect(error.message).toMatch(/set both http\.tlsCert and http\.tlsKey/);
  });

  it('accepts tlsCert and tlsKey from different sources', () => {
    const config = loadConfig({
      file: yamlFile('http:\n  tlsCert: /c.pem\n'),
      env: { BERTH_HTTP_TLS_KEY: '/k.pem' },
    });
    expect(config.http).toMatchObject({ tlsCert: '/c.pem', tlsKey: '/k.pem' });
  });

  it('is a ConfigError', () => {
    const error = configError({ env: { BERTH_HTTP_PORT: 'abc' } });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ConfigError');
  });
});

describe('maskSecrets', () => {
  const MASK = '********';

  it.each<[string, unknown, unknown]>([
    ['password', { password: 'hunter2' }, { password: MASK }],
    ['camel-case password', { dbPassword: 'hunter2' }, { dbPassword: MASK }],
    ['upper-case key', { PASSWORD: 'x' }, { PASSWORD: MASK }],
    ['secret', { clientSecret: 'x' }, { clientSecret: MASK }],
    ['secret access key', { secretAccessKey: 'x' }, { secretAccessKey: MASK }],
    ['access key', { accessKey: 'AKIA123' }, { accessKey: MASK }],
    ['access key id', { accessKeyId: 'AKIA123' }, { accessKeyId: MASK }],
    ['token', { token: 'abc' }, { token: MASK }],
    ['bearer token', { bearerToken: 'abc' }, { bearerToken: MASK }],
    ['credentials', { credentials: 'user:pass' }, { credentials: MASK }],
    ['empty secret left empty', { password: '' }, { password: '' }],
    [
      'nested secret',
      { storage: { s3: { secretKey: 'abc', bucket: 'b' } } },
      { storage: { s3: { secretKey: MASK, bucket: 'b' } } },
    ],
    ['array under a secret key', { tokens: ['a', 'b'] }, { tokens: [MASK, MASK] }],
    ['non-secret key untouched', { host: '0.0.0.0', port: 5000 }, { host: '0.0.0.0', port: 5000 }],
    ['a token lifetime is not a token', { tokenTtlSeconds: 300 }, { tokenTtlSeconds: 300 }],
    ['an LDAP bind password', { ldap: { bindPassword: 'pw' } }, { ldap: { bindPassword: MASK } }],
    ['tlsKey (a path) untouched', { tlsKey: '/tls/key.pem' }, { tlsKey: '/tls/key.pem' }],
    [
      'URL password',
      { url: 'postgres://berth:s3cret@db:5432/berth' },
      { url: `postgres://berth:${MASK}@db:5432/berth` },
    ],
    [
      'URL password in an array',
      { urls: ['s3://id:key@host/bucket', 'x'] },
      { urls: [`s3://id:${MASK}@host/bucket`, 'x'] },
    ],
    [
      'URL password in a top-level string',
      'redis://u:p@localhost:6379/0',
      `redis://u:${MASK}@localhost:6379/0`,
    ],
    ['URL with user only', { url: 'https://user@example.com/' }, { url: 'https://user@example.com/' }],
    [
      'URL without credentials',
      { url: 'https://example.com:443/a:b@c' },
      { url: 'https://example.com:443/a:b@c' },
    ],
    [
      'sqlite URL',
      { metadata: { url: 'sqlite:/data/berth.db' } },
      { metadata: { url: 'sqlite:/data/berth.db' } },
    ],
    ['password-only URL', { url: 'redis://:s3cret@cache:6379' }, { url: `redis://:${MASK}@cache:6379` }],
    ['non-strings', { a: 1, b: true, c: null, d: [1, 2] }, { a: 1, b: true, c: null, d: [1, 2] }],
  ])('%s', (_label, input, expected) => {
    expect(maskSecrets(input)).toEqual(expected);
  });

  it('does not modify its input', () => {
    const input = { password: 'x', nested: { url: 'postgres://u:p@h/db' } };
    maskSecrets(input);
    expect(input).toEqual({ password: 'x', nested: { url: 'postgres://u:p@h/db' } });
  });

  it('leaves a loaded configuration without secrets unchanged', () => {
    const config = loadConfig({ overrides: { 'http.tlsCert': '/c.pem', 'http.tlsKey': '/k.pem' } });
    expect(maskSecrets(config)).toEqual(config);
  });
});
