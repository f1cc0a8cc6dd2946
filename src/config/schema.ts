import { z } from 'zod';

/** Numbers from the environment or flags are strings; an empty one is a mistake, not 0. */
const number = z.preprocess(
  (v) => (typeof v === 'string' && v.trim() === '' ? Number.NaN : v),
  z.coerce.number(),
);
const port = number.pipe(z.number().int().min(0).max(65535));
const positiveInt = number.pipe(z.number().int().positive());
/** Environment variables and flags arrive as strings: accept true/false/1/0 only, never "any non-empty string". */
const bool = z.preprocess(
  (v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v),
  z.boolean(),
);

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
      })
      .strict()
      .prefault({}),
    storage: z
      .object({
        driver: z.enum(['filesystem']).default('filesystem'),
        /** Filesystem root; defaults to dataDir. */
        root: z.string().default(''),
      })
      .strict()
      .prefault({}),
    metadata: z
      .object({
        /** `sqlite:<path>`; defaults to sqlite:<dataDir>/berth.db. */
        url: z.string().default(''),
      })
      .strict()
      .prefault({}),
    uploads: z
      .object({
        /** Upload sessions idle for longer are removed. */
        ttlSeconds: positiveInt.default(24 * 3600),
        purgeIntervalSeconds: positiveInt.default(600),
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
    deletes: z
      .object({ enabled: bool.default(true) })
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
  });

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
