// CNCF Distribution's config.yml as the tests run it: quiet logs, deletes on, loopback only.

/** `storage` lines for a filesystem root. */
export function filesystemStorage(root: string): string[] {
  return ['  filesystem:', `    rootdirectory: ${root}`];
}

/** A config.yml with the `storage:` section's driver lines, listening on 127.0.0.1:`port`, then `extra` lines. */
export function distributionConfig(storage: string[], port: number, extra: string[] = []): string {
  return [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    ...storage,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    ...extra,
  ].join('\n');
}
