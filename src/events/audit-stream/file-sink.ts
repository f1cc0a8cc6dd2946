import { type FileHandle, open, rename, stat } from 'node:fs/promises';

export interface FileSinkOptions {
  /** Rotate when the file would grow past this many bytes (path → path.1 → … → path.maxFiles); 0: never. */
  maxBytes?: number;
  /** Rotated files kept; the oldest beyond them is overwritten. Default 5. */
  maxFiles?: number;
}

/**
 * Appends batches of lines to one file. Works with logrotate either way it is set up: after a SIGHUP
 * (`reopen`), and also without one, since before each batch the path is compared with the open file (a file
 * renamed or removed under us is noticed and the path opened anew, as Python's WatchedFileHandler does).
 * With maxBytes set it rotates by size itself. Each batch is one append write, so lines from several
 * processes writing to the same file do not interleave within a line.
 */
export class FileSink {
  readonly name = 'file';
  private handle: FileHandle | undefined;
  private inode = 0;
  private size = 0;
  private reopenAsked = false;
  private readonly maxBytes: number;
  private readonly maxFiles: number;

  constructor(
    readonly path: string,
    options: FileSinkOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? 0;
    this.maxFiles = Math.max(1, options.maxFiles ?? 5);
  }

  /** Closes the file before the next batch and opens the path again (SIGHUP after logrotate moved it). */
  reopen(): void {
    this.reopenAsked = true;
  }

  async write(lines: string[]): Promise<void> {
    const data = Buffer.from(`${lines.join('\n')}\n`);
    await this.ensureOpen();
    if (this.maxBytes > 0 && this.size > 0 && this.size + data.length > this.maxBytes) {
      await this.rotate();
    }
    const handle = this.handle as FileHandle;
    await handle.appendFile(data);
    this.size += data.length;
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  private async ensureOpen(): Promise<void> {
    if (this.handle && !this.reopenAsked) {
      // Renamed or removed by someone else (logrotate without a SIGHUP, another process rotating)?
      const current = await stat(this.path).catch(() => undefined);
      if (current?.ino === this.inode) return;
    }
    this.reopenAsked = false;
    await this.close();
    const handle = await open(this.path, 'a', 0o640);
    const info = await handle.stat();
    this.handle = handle;
    this.inode = info.ino;
    this.size = info.size;
  }

  /** path.(n-1) → path.n, …, path → path.1, then a new path. */
  private async rotate(): Promise<void> {
    await this.close();
    for (let n = this.maxFiles - 1; n >= 1; n--) {
      await rename(`${this.path}.${n}`, `${this.path}.${n + 1}`).catch(ignoreMissing);
    }
    await rename(this.path, `${this.path}.1`).catch(ignoreMissing);
    await this.ensureOpen();
  }
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}
