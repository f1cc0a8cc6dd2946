/** Caps that keep a hostile or absurd image from exhausting the scanner; all are per image. */
export interface InventoryLimits {
  /** Total bytes of tar the layers may expand to (a tar bomb stops here). */
  maxExpandedBytes: number;
  /** Total tar entries across the layers. */
  maxEntries: number;
  /** Symbolic links followed while resolving one path (Linux's MAXSYMLINKS is 40). */
  maxSymlinkHops: number;
  /** The largest zstd window a frame may ask for (zstd's own decoder refuses more than 128 MiB by default). */
  maxZstdWindowBytes: number;
}

export const DEFAULT_LIMITS: InventoryLimits = {
  maxExpandedBytes: 8 * 1024 ** 3,
  maxEntries: 1_000_000,
  maxSymlinkHops: 40,
  maxZstdWindowBytes: 128 * 1024 ** 2,
};
