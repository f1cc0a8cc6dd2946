import { z } from 'zod';
import { cronError } from '../lifecycle/jobs/schedule.js';
import { cdnProblem } from '../storage/cdn-url.js';

/** Numbers from the environment or flags are strings; an empty one is a mistake, not 0. */
const number = z.preprocess(
  (v) => (typeof v === 'string' && v.trim() === '' ? Number.NaN : v),
  z.coerce.number(),
);
const port = number.pipe(z.number().int().min(0).max(65535));
const positiveInt = number.pipe(z.number().int().positive());
/** A list in YAML, or a comma- or space-separated string (environment variables, flags). */
const hostList = z
  .union([z.array(z.string()), z.string()])
  .transform((v) => (typeof v === 'string' ? v.split(/[\s,]+/) : v).map((e) => e.trim()).filter(Boolean))
  .default([]);
/** Environment variables and flags arrive as strings: accept true/false/1/0 only, never "any non-empty string". */
const bool = z.preprocess(
  (v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v),
  z.boolean(),
);

/** Mozilla's "intermediate" list: TLS 1.3 suites, then ECDHE/DHE with AES-GCM or ChaCha20-Poly1305 for 1.2. */
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'DHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
].join(':');

/** One schema gives the defaults, the validation and the Config type. */
export const ConfigSchema = z
  .object({
    /** Where the embedded defaults keep their data: blobs and the SQLite database. */
    dataDir: z.string().min(1).default('./data'),
    http: z
      .object({
        host: z.string().min(1).default('0.0.0.0'),
        port: port.default(5000),
        /** TLS is on when both are set: paths to PEM files. */
        tlsCert: z.string().default(''),
        tlsKey: z.string().default(''),
        /** How long a graceful shutdown waits for in-flight requests. */
        shutdownTimeoutSeconds: positiveInt.default(30),
        /** A client must send a request's whole head within this (slowloris on headers). */
        headersTimeoutSeconds: positiveInt.default(20),
        /**
         * A connection with no byte in either direction for this long is closed (slow or stalled bodies). Not a
         * cap on a request's total time: a long layer upload that keeps sending is never cut.
         */
        idleTimeoutSeconds: positiveInt.default(120),
        /** The oldest TLS version served, when TLS is on. */
        tlsMinVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
        /** OpenSSL cipher list for TLS 1.2 and 1.3 (forward secrecy and AEAD only by default). */
        tlsCiphers: z.string().min(1).default(TLS_CIPHERS),
      })
      .strict()
      .prefault({}),
    /** Processes serving one port on this machine (node:cluster); 1 serves in this process. */
    workers: positiveInt.default(1),
    storage: z
      .object({
        driver: z.enum(['filesystem', 's3']).default('filesystem'),
        /** Filesystem root; defaults to dataDir. */
        root: z.string().default(''),
        /** What storage may hold, for the capacity warning; 0: the filesystem's size (none known on S3). */
        capacityBytes: number.pipe(z.number().int().min(0)).default(0),
        /** The log warns once when stored blobs pass this percentage of capacityBytes. */
        warnPercent: number.pipe(z.number().min(1).max(100)).default(85),
        s3: z
          .object({
            /** For S3-compatible stores (MinIO, Ceph RGW, Swift s3api, R2); empty means AWS. */
            endpoint: z.string().default(''),
            region: z.string().min(1).default('us-east-1'),
            bucket: z.string().default(''),
            /** Key prefix inside the bucket, so several registries can share one. */
            prefix: z.string().default(''),
            /** Path-style addressing (http://host/bucket/key), which most non-AWS stores need. */
            forcePathStyle: bool.default(false),
            /** Empty: the standard AWS environment and credential chain. */
            accessKeyId: z.string().default(''),
            secretAccessKey: z.string().default(''),
            /** Answer blob GETs with a 307 to a presigned URL, so the bytes bypass Berth. */
            redirect: bool.default(false),
            redirectExpirySeconds: positiveInt.default(600),
            /** Create the bucket at start when it does not exist. */
            createBucket: bool.default(true),
            /** Connecting to the store may take this long; then the request fails (503 after retries). */
            connectTimeoutSeconds: positiveInt.default(5),
            /**
             * A request may wait this long for the store's response to begin, and a response body may stall
             * this long. Each request is tried three times, so a store that hangs fails a request after about
             * three times this.
             */
            requestTimeoutSeconds: positiveInt.default(120),
            /**
             * What the read buffers of all concurrent streamed blob reads may hold together (64 MiB; at least
             * 262144, one buffer): beyond it reads wait their turn, so memory stays flat however many pulls run.
             * Reused buffers for plain-HTTP endpoints (the lean read path); see docs/deployment.md.
             */
            readBufferBytes: number
              .pipe(z.number().int().min(262144, 'must be at least 262144 (one 256 KiB read buffer)'))
              .default(64 * 1024 * 1024),
          })
          .strict()
          .prefault({}),
        /**
         * Blob GETs answered with a 307 to a CDN in front of the storage (filesystem root or S3 bucket), so
         * the bytes never pass through Berth; used instead of s3.redirect when set. See docs/deployment.md.
         */
        cdn: z
          .object({
            /** The CDN's URL of the storage root: a blob is at <baseUrl>/blobs/sha256/<xx>/<hex>. Empty: off. */
            baseUrl: z.string().default(''),
            /** none, or nginx-secure-link: ?md5=&expires= as nginx's secure_link_md5 checks them. */
            signing: z.enum(['none', 'nginx-secure-link']).default('none'),
            /** The secret shared with the CDN (nginx-secure-link). */
            secret: z.string().default(''),
            /** A signed URL works this long. */
            expirySeconds: positiveInt.default(600),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    metadata: z
      .object({
        /** `sqlite:<path>` or `postgres://user@host/db`; defaults to sqlite:<dataDir>/berth.db. */
        url: z.string().default(''),
        /** PostgreSQL connections per process. */
        poolSize: positiveInt.default(10),
      })
      .strict()
      .prefault({}),
    uploads: z
      .object({
        /** Upload sessions idle for longer are removed. */
        ttlSeconds: positiveInt.default(24 * 3600),
        purgeIntervalSeconds: positiveInt.default(600),
        /**
         * A request writing to an upload holds the session for this long, renewed as it goes. After a node
         * dies mid-chunk, another node can take its uploads over this much later at most.
         */
        leaseSeconds: positiveInt.default(10),
      })
      .strict()
      .prefault({}),
    manifests: z
      .object({
        maxBytes: positiveInt.default(4 * 1024 * 1024),
        /** Memory for hot manifests and tag lookups; 0 turns the cache off. */
        cacheBytes: number.pipe(z.number().int().min(0)).default(64 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
    limits: z
      .object({
        /** Open connections per client address (IPv6: per /64); more get 429. Trusted proxies are exempt. 0: off. */
        connectionsPerAddress: number.pipe(z.number().int().min(0)).default(256),
        /** Requests carrying blob bytes at once per user or robot; more get 429. 0: off. */
        uploadsPerUser: number.pipe(z.number().int().min(0)).default(64),
        /** The window of the request-rate limits below. */
        windowSeconds: positiveInt.default(60),
        /** /api/v1 requests per window, per client address and per logged-in user or robot. 0: off. */
        apiRequestsPerAddress: number.pipe(z.number().int().min(0)).default(3000),
        apiRequestsPerUser: number.pipe(z.number().int().min(0)).default(1200),
        /** /token requests per window, per client address and per user or robot given a token. 0: off. */
        tokenRequestsPerAddress: number.pipe(z.number().int().min(0)).default(1200),
        tokenRequestsPerUser: number.pipe(z.number().int().min(0)).default(600),
      })
      .strict()
      .prefault({}),
    deletes: z
      .object({ enabled: bool.default(true) })
      .strict()
      .prefault({}),
    auth: z
      .object({
        /** Off: anyone may push and pull (a registry on a trusted network, or behind another gate). */
        enabled: bool.default(true),
        /** The token audience, `service=` in challenges and token requests. */
        service: z.string().min(1).default('berth'),
        /** The token endpoint URL in challenges; empty: <scheme>://<Host of the request>/token. */
        realm: z.string().default(''),
        /** Lifetime of registry tokens; a permission change takes effect at the latest after this. */
        tokenTtlSeconds: positiveInt.default(300),
        /** Allow pulls of public projects without any credentials or token (curl, simple clients). */
        anonymousPull: bool.default(true),
        /** Logged-in users may create projects (otherwise system administrators only). */
        usersCanCreateProjects: bool.default(false),
        /** Login failures allowed per account and per client address within loginWindowSeconds. */
        maxLoginFailures: positiveInt.default(10),
        loginWindowSeconds: positiveInt.default(300),
        /** X-Forwarded-For is believed only from these proxies (comma-separated addresses or CIDRs). */
        trustedProxies: z.string().default(''),
        ldap: z
          .object({
            /** ldap://host:389 or ldaps://…; empty turns LDAP off. */
            url: z.string().default(''),
            bindDN: z.string().default(''),
            bindPassword: z.string().default(''),
            userBase: z.string().default(''),
            userFilter: z.string().default('(uid={username})'),
            groupBase: z.string().default(''),
            groupFilter: z.string().default('(member={dn})'),
            startTLS: bool.default(false),
          })
          .strict()
          .prefault({}),
        /** Single sign-on with an OpenID Provider (Authorization Code flow with PKCE); empty issuer: off. */
        oidc: z
          .object({
            /** The provider's issuer URL; its /.well-known/openid-configuration is read at the first login. */
            issuer: z.string().default(''),
            clientId: z.string().default(''),
            /** Empty: a public client (PKCE only, no client authentication). */
            clientSecret: z.string().default(''),
            /** Space-separated; must include openid. */
            scopes: z.string().default('openid profile email groups'),
            /** The claim (ID token or userinfo) that names the user in Berth. */
            usernameClaim: z.string().min(1).default('preferred_username'),
            /** The claim listing the user's groups (usable as project members, like LDAP groups). */
            groupsClaim: z.string().min(1).default('groups'),
            /** Members of this group are system administrators (checked at each login); empty: none. */
            adminGroup: z.string().default(''),
            /** Berth's URL as browsers reach it; the callback is <it>/api/v1/auth/oidc/callback. Empty: from the request. */
            redirectBaseUrl: z.string().default(''),
            /** A login begun must come back from the provider within this. */
            loginTimeoutSeconds: positiveInt.default(600),
            /** Allow an http:// issuer (tests, labs); never in production. */
            allowInsecureHttp: bool.default(false),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    gc: z
      .object({
        /**
         * Nothing pushed, mounted or linked more recently than this is collected: the time a client may take
         * between pushing a layer and pushing the manifest that references it.
         */
        graceSeconds: number.pipe(z.number().int().min(0)).default(3600),
        /** Cron expression (UTC) for scheduled runs, e.g. "0 3 * * *"; empty: manual runs only. */
        schedule: z.string().default(''),
        /** Collect manifests that no tag, index or referrer keeps. */
        untagged: bool.default(true),
      })
      .strict()
      .prefault({}),
    scrub: z
      .object({
        /** Cron expression (UTC) for scheduled integrity scrubs, e.g. "0 4 * * 0"; empty: manual runs only. */
        schedule: z.string().default(''),
        /** Bytes a scrub reads per second (storage I/O left for pulls); 0: no limit. */
        rateBytesPerSecond: number.pipe(z.number().int().min(0)).default(0),
        /** Whether scheduled scrubs quarantine the corrupt blobs they find (never served again). */
        quarantine: bool.default(false),
      })
      .strict()
      .prefault({}),
    webhooks: z
      .object({
        /**
         * Encrypts endpoint secrets at rest: `<id>:<base64 of 32 bytes>` (e.g. k1:$(openssl rand -base64 32)).
         * Empty: secrets are stored as given (never shown by the API either way).
         */
        secretKey: z.string().default(''),
        /** host[:port] clients pull from, for Harbor payloads' resource_url; empty: the address Berth listens on. */
        registryHost: z.string().default(''),
        /** A receiver that has not answered within this long has failed the attempt. */
        timeoutSeconds: number.pipe(z.number().positive()).default(10),
        /** Attempts per delivery before it is given up. */
        maxAttempts: positiveInt.default(8),
        /** Consecutive failed attempts to one endpoint that disable it (with the reason in its status). */
        maxFailures: positiveInt.default(10),
        /** The first retry waits this long, each next one twice as long (at most an hour). */
        retrySeconds: number.pipe(z.number().positive()).default(5),
        /** How often each process looks for due deliveries (an event queued here wakes it at once). */
        pollSeconds: number.pipe(z.number().positive()).default(1),
        /**
         * Refuse endpoints (400 at creation) and deliveries whose address is loopback, private (RFC 1918,
         * ULA), link-local (169.254.169.254), unspecified, multicast or otherwise internal, after resolving.
         */
        denyPrivateAddresses: bool.default(true),
        /** Host names (`*.corp.example`), addresses or CIDR ranges allowed despite denyPrivateAddresses. */
        allowedHosts: hostList,
        /** Host names, addresses or CIDR ranges always refused. */
        deniedHosts: hostList,
      })
      .strict()
      .prefault({}),
    backup: z
      .object({
        /**
         * The object store of `s3://bucket/prefix` backup destinations and Distribution trees. With `endpoint`
         * empty, storage.s3's endpoint, region, path style and keys are used; keys left empty here and there
         * come from the standard AWS chain (AWS_ACCESS_KEY_ID, profile, instance role).
         */
        s3: z
          .object({
            endpoint: z.string().default(''),
            region: z.string().min(1).default('us-east-1'),
            forcePathStyle: bool.default(false),
            accessKeyId: z.string().default(''),
            secretAccessKey: z.string().default(''),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    replication: z
      .object({
        /**
         * Encrypts remote registry credentials at rest (proxy projects, replication): `<id>:<base64 of 32 bytes>`
         * (e.g. k1:$(openssl rand -base64 32)). Empty: credentials are refused; anonymous upstreams still work.
         */
        secretKey: z.string().default(''),
        /** Older keys (comma-separated, same form) that still decrypt what they sealed, after a rotation. */
        previousSecretKeys: z.string().default(''),
        /**
         * Push policies upload a blob larger than this in PATCH chunks of this size, so that one cut off by a
         * transient failure resumes where the target's session stands (docs/replication.md); 0: in one PUT.
         * 64 MiB: small blobs keep their one round trip, a large layer cut off late is not sent again whole.
         */
        uploadChunkBytes: number
          .pipe(z.number().int().min(0))
          .refine((bytes) => bytes === 0 || bytes >= 65536, 'must be 0 (one PUT) or at least 65536')
          .default(64 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
    proxy: z
      .object({
        /** A cached tag is served without asking the upstream again for this long after it was last checked. */
        tagTtlSeconds: number.pipe(z.number().int().min(0)).default(300),
        /** The upstream must start answering within this, or the cached copy is served (or the pull fails). */
        upstreamTimeoutSeconds: positiveInt.default(20),
        /**
         * A blob another process (node or worker) is fetching is waited for this long, then fetched here too;
         * a waiting client gets its first byte once the other process has stored the whole blob.
         */
        fillWaitSeconds: positiveInt.default(120),
        /**
         * The proxy project that plain names fall to, for Docker daemons with `registry-mirrors` (they send
         * `/v2/library/alpine/…`, no project): a name whose first segment is no project here, or a `library/…`
         * name no repository here has (docs/proxy-cache.md). Empty: none.
         */
        mirrorProject: z
          .string()
          .regex(/^([a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)?$/, 'must be a project name, or empty')
          .default(''),
      })
      .strict()
      .prefault({}),
    scanning: z
      .object({
        /** Scans run at once per process (each streams an image's layers once). */
        concurrency: positiveInt.default(1),
        /** How often each process looks for queued scans (a push here wakes it at once). */
        pollSeconds: positiveInt.default(5),
        /** Reports show the vulnerability data as stale when it is older than this. */
        staleAfterDays: positiveInt.default(7),
        /** Berth's URL as plug-in scanner adapters reach it; empty: the address Berth listens on. */
        registryUrl: z.string().default(''),
      })
      .strict()
      .prefault({}),
    audit: z
      .object({
        /** Events older than this are deleted. */
        retentionDays: positiveInt.default(90),
        /** Every audit event also as one JSON line to a file and/or syslog, for ELK or Loki (docs/operations.md). */
        stream: z
          .object({
            /** A file each event is appended to as one JSON line; empty: none. SIGHUP reopens it (logrotate). */
            file: z.string().default(''),
            /** Rotate the file at this size (file → file.1 → … ); 0: never (leave it to logrotate). */
            fileMaxBytes: number.pipe(z.number().int().min(0)).default(0),
            /** Rotated files kept (file.1 … file.N) when fileMaxBytes is set. */
            fileMaxFiles: positiveInt.default(5),
            /** host:port of a syslog receiver (RFC 5424 messages); empty: none. */
            syslog: z.string().default(''),
            /** udp: one datagram per event (RFC 5426); tcp: octet-counted frames (RFC 6587). */
            syslogProtocol: z.enum(['udp', 'tcp']).default('udp'),
            /** The syslog facility of every message. */
            syslogFacility: z
              .enum([
                'user',
                'daemon',
                'auth',
                'authpriv',
                'local0',
                'local1',
                'local2',
                'local3',
                'local4',
                'local5',
                'local6',
                'local7',
              ])
              .default('local0'),
            /** Events waiting per sink; beyond this (a stuck sink) new events are dropped and counted. */
            bufferEvents: positiveInt.default(10_000),
          })
          .strict()
          .prefault({}),
        /** The built-in detector of unusual access in the audit log (docs/operations.md). */
        anomalies: z
          .object({
            enabled: bool.default(true),
            /** How often the detector reads the audit log (on PostgreSQL, one node at a time). */
            intervalSeconds: positiveInt.default(60),
            /** After a finding, the same rule stays quiet about the same subject this long; then it counts anew. */
            cooldownMinutes: positiveInt.default(60),
            /** Mass pulls: an account pulling far more than usual, or much at an hour it never pulls. */
            massPull: z
              .object({
                enabled: bool.default(true),
                /** The trailing window whose pulls are counted. */
                windowMinutes: positiveInt.default(60),
                /** The baseline: the same window of the week in each of the last N weeks. */
                lookbackWeeks: positiveInt.default(4),
                /** Fewer pulls than this in the window never fire. */
                minPulls: positiveInt.default(100),
                /** At an hour the account uses: fire at this many times its usual volume. */
                volumeFactor: number.pipe(z.number().min(1)).default(10),
                /** At an hour it never pulled in the lookback: fire at this many times its usual hourly volume. */
                offHoursFactor: number.pipe(z.number().min(1)).default(3),
                /** Accounts whose first pull in the lookback is more recent than this are not judged. */
                minHistoryDays: positiveInt.default(14),
                /** …nor those with fewer pulls than this in the lookback. */
                minHistoryPulls: positiveInt.default(50),
              })
              .strict()
              .prefault({}),
            /** Failed logins per account and per client address. */
            failedLogins: z
              .object({
                enabled: bool.default(true),
                windowMinutes: positiveInt.default(15),
                perAccount: positiveInt.default(10),
                perAddress: positiveInt.default(20),
              })
              .strict()
              .prefault({}),
            /** A robot pulling most of a project's repositories when it never did before. */
            robotSweep: z
              .object({
                enabled: bool.default(true),
                windowMinutes: positiveInt.default(60),
                /** Share of the project's repositories pulled within the window. */
                percent: number.pipe(z.number().gt(0).max(100)).default(80),
                /** Projects with fewer repositories are not judged. */
                minRepositories: positiveInt.default(3),
                /** "Never before": not in this many days before the window, nor ever flagged for it. */
                lookbackDays: positiveInt.default(30),
              })
              .strict()
              .prefault({}),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .refine((c) => (c.http.tlsCert === '') === (c.http.tlsKey === ''), {
    message: 'set both http.tlsCert and http.tlsKey, or neither',
    path: ['http', 'tlsCert'],
  })
  .refine((c) => c.storage.driver !== 's3' || c.storage.s3.bucket !== '', {
    message: 'the s3 driver needs a bucket',
    path: ['storage', 's3', 'bucket'],
  })
  .refine((c) => (c.storage.s3.accessKeyId === '') === (c.storage.s3.secretAccessKey === ''), {
    message: 'set both storage.s3.accessKeyId and storage.s3.secretAccessKey, or neither',
    path: ['storage', 's3', 'accessKeyId'],
  })
  .superRefine((c, context) => {
    const problem = cdnProblem(c.storage.cdn);
    if (problem) context.addIssue({ code: 'custom', message: problem, path: ['storage', 'cdn', 'baseUrl'] });
  })
  .refine((c) => c.auth.oidc.issuer === '' || c.auth.oidc.clientId !== '', {
    message: 'auth.oidc.issuer needs auth.oidc.clientId',
    path: ['auth', 'oidc', 'clientId'],
  })
  .refine((c) => c.auth.oidc.issuer === '' || c.auth.oidc.scopes.split(/\s+/).includes('openid'), {
    message: 'auth.oidc.scopes must include openid',
    path: ['auth', 'oidc', 'scopes'],
  })
  .refine((c) => c.scrub.schedule === '' || cronError(c.scrub.schedule) === undefined, {
    message: 'scrub.schedule is not a valid cron expression (5 fields: minute hour day month weekday, UTC)',
    path: ['scrub', 'schedule'],
  })
  .refine((c) => c.gc.schedule === '' || cronError(c.gc.schedule) === undefined, {
    message: 'gc.schedule is not a valid cron expression (5 fields: minute hour day month weekday, UTC)',
    path: ['gc', 'schedule'],
  });

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
