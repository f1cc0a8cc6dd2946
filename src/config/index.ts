export { ConfigError, envName, type LoadOptions, loadConfig, maskSecrets } from './load.js';
export { type Config, type ConfigInput, ConfigSchema, TLS_CIPHERS } from './schema.js';
