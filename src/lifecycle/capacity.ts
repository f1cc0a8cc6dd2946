import { statfs } from 'node:fs/promises';

/** Where the capacity warning is logged. */
export interface CapacityLog {
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
}

export interface CapacityState {
  storedBytes: number;
  /** Undefined when unknown (object storage without storage.capacityBytes): no warning then. */
  capacityBytes: number | undefined;
  warnPercent: number;
  /** Whether stored bytes are at or past warnPercent of the capacity. */
  above: boolean;
}

/** The size of the filesystem holding `path`, from statfs. */
export async function filesystemSize(path: string): Promise<number> {
  const stats = await statfs(path);
  return stats.blocks * stats.bsize;
}

/**
 * Warns once when total storage crosses warnPercent of the capacity, and says so once when it falls back
 * below; checked now and then, not on every push.
 */
export class CapacityWatch {
  private above = false;

  constructor(
    private readonly options: {
      warnPercent: number;
      capacityBytes: () => Promise<number | undefined>;
      log: CapacityLog;
    },
  ) {}

  async check(storedBytes: number): Promise<CapacityState> {
    const capacityBytes = await this.options.capacityBytes();
    const { warnPercent, log } = this.options;
    const above =
      capacityBytes !== undefined && capacityBytes > 0 && storedBytes * 100 >= capacityBytes * warnPercent;
    const fields = {
      storedBytes,
      capacityBytes,
      warnPercent,
      percent: capacityBytes ? Math.round((storedBytes * 1000) / capacityBytes) / 10 : undefined,
    };
    if (above && !this.above) log.warn(fields, `storage is over ${warnPercent}% of its capacity`);
    if (!above && this.above) log.info(fields, `storage is back under ${warnPercent}% of its capacity`);
    this.above = above;
    return { storedBytes, capacityBytes, warnPercent, above };
  }
}
