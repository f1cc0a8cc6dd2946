import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { type Config, ConfigSchema } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Tree = Record<string, unknown>;

export interface LoadOptions {
  /** YAML file to read, if any. */
  file?: string | undefined;
  /** Environment to read BERTH_* variables from. */
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags or tests, by dotted key: { 'http.port': '5001' }. */
  overrides?: Record<string, unknown>;
}

/** `uploads.ttlSeconds` → `BERTH_UPLOADS_TTL_SECONDS`. */
export function envName(path: string[]): string {
  return `BERTH_${path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_')}`;
}

function leafPaths(tree: Tree, prefix: string[] = []): string[][] {
  return Object.entries(tree).flatMap(([key, value]) =>
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? leafPaths(value as Tree, [...prefix, key])
      : [[...prefix, key]],
  );
}

function setPath(tree: Tree, path: string[], value: unknown): void {
  let node = tree;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) node[key] = {};
    node = node[key] as Tree;
  }
  node[path[path.length - 1] as string] = value;
}

/** Defaults < YAML file < BERTH_* environment < overrides (flags). Errors name the bad key and its source. */
export function loadConfig(options: LoadOptions = {}): Config {
  const merged: Tree = {};
  const sources = new Map<string, string>();
  if (options.file) {
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(options.file, 'utf8'));
    } catch (error) {
      throw new ConfigError(`config file ${options.file}: ${(error as Error).message}`);
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new ConfigError(`config file ${options.file}: expected a mapping at the top level`);
      }
      Object.assign(merged, parsed);
      for (const path of leafPaths(parsed as Tree)) sources.set(path.join('.'), `file ${options.file}`);
    }
  }
  const env = options.env ?? {};
  for (const path of leafPaths(ConfigSchema.parse({}) as Tree)) {
    const name = envName(path);
    const value = env[name];
    if (value === undefined) continue;
    setPath(merged, path, value);
    sources.set(path.join('.'), `environment ${name}`);
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value === undefined) continue;
    setPath(merged, key.split('.'), value);
    sources.set(key, 'command line');
  }
  const result = ConfigSchema.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const keys =
        issue.code === 'unrecognized_keys' ? issue.keys.map((k) => [...issue.path, k].join('.')) : [];
      const key = keys.length > 0 ? keys.join(', ') : issue.path.join('.');
      const source = sources.get(keys[0] ?? key) ?? sourceBelow(sources, keys[0] ?? key);
      return `  ${key || '(root)'}: ${issue.message}${source ? ` (from ${source})` : ''}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return resolveDerived(result.data);
}

/** The source of any value set under `prefix` (an unknown key may be a whole mapping). */
function sourceBelow(sources: Map<string, string>, prefix: string): string | undefined {
  for (const [path, source] of sources) if (path.startsWith(`${prefix}.`)) return source;
  return undefined;
}

/** Fills the settings whose defaults follow dataDir. */
function resolveDerived(config: Config): Config {
  return {
    ...config,
    storage: { ...config.storage, root: config.storage.root || config.dataDir },
    metadata: {
      ...config.metadata,
      url: config.metadata.url || `sqlite:${join(config.dataDir, 'berth.db')}`,
    },
  };
}

const SECRET_KEY = /password|secret|credential|accesskey|apikey|privatekey|tokens?$/i;

/** A copy safe to print: secret-looking values and URL passwords masked. */
export function maskSecrets(value: unknown, key = ''): unknown {
  if (SECRET_KEY.test(key) && (typeof value === 'string' || typeof value === 'number') && value !== '') {
    return '********';
  }
  if (typeof value === 'string') return value.replace(/(\/\/[^:/@\s]*:)[^@/\s]+@/g, '$1********@');
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, key));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k)]));
  }
  return value;
}
