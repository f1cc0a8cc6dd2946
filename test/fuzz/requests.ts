// fast-check arbitraries for hostile requests to every /v2 and /api/v1 endpoint. The endpoints come from the
// server's own tables (the /v2 router's patterns, the OpenAPI document), so a new endpoint is fuzzed as soon as
// it exists.
import fc from 'fast-check';
import { DISTRIBUTION_ENDPOINTS } from '../../src/distribution/index.js';
import { CALLERS, type CallerName, REPOSITORIES } from './fuzz-target.js';

export interface FuzzRequest {
  /** `v2 manifest`, `api GET /users/{username}`, … for the per-endpoint counts. */
  endpoint: string;
  method: string;
  /** Exactly as sent: already percent-encoded where needed, `..` and all. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Send the body with chunked transfer encoding instead of a Content-Length. */
  chunked: boolean;
  caller: CallerName;
  /** How the caller authenticates on /v2 (the API takes Basic only). */
  scheme: 'basic' | 'bearer' | 'wrong' | 'garbage';
}

/** What the generators aim at besides nonsense: things that exist on the target. */
export interface Known {
  digests: string[];
  uploads: string[];
  manifest: Buffer;
}

export interface Endpoint {
  name: string;
  methods: string[];
  /** Path with `{param}` placeholders, from the root. */
  template: string;
  api: boolean;
}

/** `^(?<name>.+)\/manifests\/(?<reference>[^/]+)$` → `/v2/{name}/manifests/{reference}`. */
export function templateOf(pattern: RegExp): string {
  const inner = pattern.source
    .replace(/^\^/, '')
    .replace(/\$$/, '')
    .replace(/\(\?<(\w+)>[^)]*\)/g, '{$1}')
    .replace(/\\\/\?/g, '/')
    .replace(/\\\//g, '/');
  return `/v2/${inner}`;
}

export function v2Endpoints(): Endpoint[] {
  return DISTRIBUTION_ENDPOINTS.map((route) => ({
    name: `v2 ${route.name}`,
    methods: route.methods,
    template: templateOf(route.pattern),
    api: false,
  }));
}

/** Every operation of the OpenAPI document (fetched from the server under test). */
export function apiEndpoints(document: { paths: Record<string, Record<string, unknown>> }): Endpoint[] {
  return Object.entries(document.paths).map(([path, operations]) => ({
    name: `api ${path}`,
    methods: Object.keys(operations).map((method) => method.toUpperCase()),
    template: path.startsWith('/api/v1/') ? path : `/api/v1${path}`,
    api: true,
  }));
}

/** Anything outside printable ASCII (and `%`, `?`, `#`, space) percent-encoded; `..` and `/` left as they are. */
function encode(text: string): string {
  return Array.from(text)
    .map((char) => (/^[\x21-\x7e]$/.test(char) && !'%?#'.includes(char) ? char : encodeURIComponent(char)))
    .join('');
}

const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });

const nasty = fc.oneof(
  fc.constantFrom(
    '..',
    '%2e%2e',
    '%2E%2E/%2e%2e',
    '%00',
    'a%00b',
    '.',
    '%2f',
    '%',
    '%zz',
    '~',
    '$',
    '\\',
    '*',
  ),
  fc.string({ maxLength: 40 }).map(encode),
  fc.string({ unit: 'binary', maxLength: 20 }).map(encode),
);

export function nameArb(): fc.Arbitrary<string> {
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc.constantFrom(...REPOSITORIES, 'pub/new', 'priv/new', 'other/app', 'library/x'),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom('PUB/APP', 'pub/App', 'pub//app', 'pub/app/', '/pub/app', 'pub/./app'),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom('pub/../priv/app', 'pub/%2e%2e/priv/app', 'pub/app%00', 'pub%2fapp'),
    },
    { weight: 1, arbitrary: fc.integer({ min: 256, max: 600 }).map((n) => `pub/${'a'.repeat(n)}`) },
    {
      weight: 1,
      arbitrary: fc
        .array(fc.constantFrom('a', 'b', '-', '_', '.', '__', '/'), { maxLength: 30 })
        .map((p) => `pub/${p.join('')}`),
    },
    { weight: 2, arbitrary: nasty.map((part) => `pub/${part}`) },
  );
}

export function digestArb(known: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...known) },
    { weight: 1, arbitrary: hex(64).map((h) => `sha256:${h}`) },
    { weight: 1, arbitrary: fc.constantFrom(...known).map((d) => d.toUpperCase()) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(...known).map((d) => d.replace(/[a-f]/g, (c) => c.toUpperCase())),
    },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 0, max: 200 })
        .chain((n) => hex(n))
        .map((h) => `sha256:${h}`),
    },
    { weight: 1, arbitrary: hex(128).map((h) => `sha512:${h}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'sha256:',
        'sha256',
        ':',
        'md5:d41d8cd98f00b204e9800998ecf8427e',
        'blake3:' + 'a'.repeat(64),
        'sha256+b64:abc=',
        'SHA256:' + 'a'.repeat(64),
      ),
    },
    { weight: 1, arbitrary: nasty },
  );
}

function referenceArb(known: Known): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom('v1', 'latest', 'v2', '_x', '-bad', 'a'.repeat(128), 'a'.repeat(129)),
    digestArb(known.digests),
    nasty,
  );
}

function uuidArb(known: Known): fc.Arbitrary<string> {
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc.constantFrom(...known.uploads.map((path) => path.slice(path.lastIndexOf('/') + 1))),
    },
    { weight: 1, arbitrary: fc.uuid() },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        ...known.uploads.map((path) => path.slice(path.lastIndexOf('/') + 1).toUpperCase()),
      ),
    },
    { weight: 1, arbitrary: nasty },
  );
}

/** A path parameter of the API (user names, project names, ids, rule numbers…). */
function apiParamArb(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(
      'root',
      'dev',
      'visitor',
      'pub',
      'priv',
      'app',
      'robot$ci',
      'ci',
      '1',
      '0',
      '-1',
      '99999999999999999999',
      'current',
    ),
    fc.constantFrom('root', 'pub', '1'),
    fc.constantFrom('dev', 'priv', 'ci'),
    fc.integer({ min: 256, max: 400 }).map((n) => 'x'.repeat(n)),
    nasty,
  );
}

const numberText = fc.constantFrom(
  '-1',
  '0',
  '1',
  '2',
  '1e9',
  '1000000000',
  '99999999999999999999999',
  'abc',
  '',
  '1.5',
  '0x10',
  ' 5',
);

function queryArb(api: boolean, known: Known): fc.Arbitrary<string> {
  const pair = fc.oneof(
    numberText.map((v) => `n=${v}`),
    fc.oneof(fc.constantFrom('', 'pub/app', 'v1', 'zzzz'), nasty).map((v) => `last=${v}`),
    digestArb(known.digests).map((v) => `digest=${v}`),
    digestArb(known.digests).map((v) => `mount=${v}`),
    nameArb().map((v) => `from=${v}`),
    fc.constantFrom('artifactType=', 'artifactType=application/x', 'artifactType=%00'),
    ...(api
      ? [
          numberText.map((v) => `limit=${v}`),
          fc.oneof(fc.constantFrom('', 'abc', '!!!'), nasty).map((v) => `cursor=${v}`),
          fc.constantFrom('since=yesterday', 'since=0', 'until=99999999999999999', 'actor=%00', 'action=x'),
        ]
      : []),
    fc.oneof(
      fc.constantFrom(
        'scope=repository:pub/app:pull',
        'scope=repository:pub/app:*',
        'scope=repository:priv/app:pull,push,delete',
        'scope=registry:catalog:*',
        'scope=repository:PUB/APP:pull',
        'scope=repository(plugin):pub/app:pull',
        'scope=garbage',
        'service=berth',
        'service=other',
        'offline_token=true',
      ),
      nasty.map((v) => `scope=${v}`),
    ),
    fc.tuple(nasty, nasty).map(([k, v]) => `${k}=${v}`),
  );
  return fc.array(pair, { maxLength: 4 }).map((pairs) => (pairs.length === 0 ? '' : `?${pairs.join('&')}`));
}

const MEDIA_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
  'application/json',
  'application/json; charset=latin1',
  'application/x-www-form-urlencoded',
  'application/octet-stream',
  'text/html',
  'multipart/form-data; boundary=x',
  'garbage',
  '',
];

function deepJson(depth: number): Buffer {
  return Buffer.from(`${'{"a":['.repeat(depth)}1${']}'.repeat(depth)}`);
}

function bodyArb(known: Known): fc.Arbitrary<Buffer | undefined> {
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: fc.constant(Buffer.alloc(0)) },
    { weight: 3, arbitrary: fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 1024 * 1024, max: 1024 * 1024 + 4096 }).map((n) => Buffer.alloc(n, 0x7b)),
    },
    { weight: 2, arbitrary: fc.nat(known.manifest.length - 1).map((n) => known.manifest.subarray(0, n)) },
    { weight: 2, arbitrary: fc.constant(known.manifest) },
    { weight: 1, arbitrary: fc.constantFrom(100, 1000, 10_000).map(deepJson) },
    { weight: 1, arbitrary: fc.constant(Buffer.from(`${'['.repeat(10_000)}${']'.repeat(10_000)}`)) },
    { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 4 }).map(json) },
    {
      weight: 3,
      // Shapes the API accepts, with hostile values in them.
      arbitrary: fc
        .record(
          {
            name: fc.oneof(fc.constantFrom('p1', 'x', ''), nasty),
            username: fc.oneof(fc.constantFrom('u1', 'root'), nasty),
            password: fc.oneof(fc.constant('correct horse battery staple 2'), fc.string()),
            public: fc.oneof(fc.boolean(), fc.constant('yes')),
            role: fc.constantFrom('guest', 'developer', 'maintainer', 'projectAdmin', 'god'),
            permissions: fc.constant([{ project: 'pub', actions: ['pull', 'push'] }]),
            limitBytes: fc.oneof(fc.integer(), fc.constant(1e308), fc.constant(-1)),
            rules: fc.constant([{ tagPattern: '*a*a*a*a*a*a*a*a*a*a*a*a*a*b', repositoryPattern: '**' }]),
          },
          { requiredKeys: [] },
        )
        .map(json),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          'grant_type=password&username=root&password=x&service=berth',
          'grant_type=refresh_token&refresh_token=abc.def.ghi',
          'grant_type=password&username=%00&password=',
          'grant_type=magic',
          `grant_type=password&scope=${'repository:a:pull&scope='.repeat(200)}`,
        )
        .map((form) => Buffer.from(form)),
    },
  );
}

function headersArb(known: Known, api: boolean): fc.Arbitrary<Record<string, string>> {
  const range = fc.oneof(
    fc.constantFrom(
      'bytes=0-10',
      'bytes=10-0',
      'bytes=-5',
      'bytes=5-',
      'bytes=0-99999999999999999',
      'bytes=99999999999999999-',
      'bytes=0-0,5-6',
      'bytes=abc',
      'items=0-1',
      '',
    ),
    fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => `bytes=${a}-${b}`),
  );
  const contentRange = fc.oneof(
    fc.constantFrom(
      '0-10',
      '10-0',
      '0-0',
      'bytes 0-1/2',
      '0-99999999999999999',
      '999999999999999-1000000000000000',
      '-1-5',
      'abc',
      '',
      '0-1/*',
    ),
    fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => `${a}-${b}`),
  );
  return fc
    .record(
      {
        'content-type': api
          ? fc.oneof(
              { weight: 4, arbitrary: fc.constant('application/json') },
              fc.constantFrom(...MEDIA_TYPES),
            )
          : fc.constantFrom(...MEDIA_TYPES),
        accept: fc.constantFrom(...MEDIA_TYPES, '*/*', 'application/vnd.oci.image.manifest.v1+json;q=0'),
        range,
        'content-range': contentRange,
        'if-none-match': fc.constantFrom('"x"', `"${known.digests[0]}"`, '*'),
        'x-forwarded-for': fc.constantFrom('1.2.3.4', 'garbage', '::1, 10.0.0.1'),
        'x-request-id': fc.oneof(fc.constantFrom('abc', 'a'.repeat(300)), nasty),
      },
      { requiredKeys: [] },
    )
    .map((headers) => Object.fromEntries(Object.entries(headers).filter(([, value]) => value !== '')));
}

function fill(template: string, value: (key: string) => string): string {
  return template.replace(/\{(\w+)\}/g, (_, key: string) => value(key));
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** One hostile request to one of `endpoints`. */
export function requestArb(endpoints: readonly Endpoint[], known: Known): fc.Arbitrary<FuzzRequest> {
  return fc.constantFrom(...endpoints).chain((endpoint) =>
    fc
      .record({
        // Mostly a method the endpoint has, sometimes any.
        method: fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(...endpoint.methods) },
          fc.constantFrom(...METHODS),
        ),
        name: nameArb(),
        reference: referenceArb(known),
        digest: digestArb(known.digests),
        uuid: uuidArb(known),
        param: apiParamArb(),
        query: queryArb(endpoint.api, known),
        headers: headersArb(known, endpoint.api),
        body: bodyArb(known),
        chunked: fc.boolean(),
        caller: fc.constantFrom(...CALLERS),
        scheme: endpoint.api
          ? fc.constantFrom('basic', 'basic', 'basic', 'bearer', 'wrong', 'garbage')
          : fc.constantFrom('basic', 'bearer', 'bearer', 'bearer', 'wrong', 'garbage'),
      })
      .map((r) => {
        const v2: Record<string, string> = {
          name: r.name,
          reference: r.reference,
          digest: r.digest,
          uuid: r.uuid,
        };
        const value = (key: string) => (endpoint.api ? r.param : (v2[key] ?? r.name));
        const request: FuzzRequest = {
          endpoint: endpoint.name,
          method: r.method,
          path: fill(endpoint.template, value) + r.query,
          headers: r.headers,
          chunked: r.chunked,
          caller: r.caller,
          scheme: r.scheme as FuzzRequest['scheme'],
        };
        if (r.body !== undefined && r.method !== 'GET' && r.method !== 'HEAD') request.body = r.body;
        return request;
      }),
  );
}

/** Extra endpoints that are not in either table but take hostile input all the same. */
export const OTHER_ENDPOINTS: Endpoint[] = [
  { name: 'token', methods: ['GET', 'POST'], template: '/token', api: false },
  { name: 'unknown', methods: ['GET', 'POST'], template: '/{name}', api: false },
];
