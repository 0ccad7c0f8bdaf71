import { randomUUID } from 'node:crypto';
import { closeSync, constants as fsConstants, fdatasync as fsFdatasync, fsync as fsFsync, open as fsOpen, writev as fsWritev } from 'node:fs';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { AppError } from '../../shared/errors/app-error.js';
import type { BlobStore, BlobWriter } from './blob-store.js';

const keyPattern = /^[0-9a-f]{2}\/[0-9a-f]{32}$/;

/**
 * Blobs as files `<root>/<xx>/<32 hex>`: 256 fan-out folders created (and fsync'd) once, so acknowledging a write
 * costs one fsync of the file and one of its folder.
 */
export class FsBlobStore implements BlobStore {
  readonly kind = 'filesystem';

  constructor(private readonly root: string) {}

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const existing = new Set(await readdir(this.root));
    let created = false;
    for (let i = 0; i < 256; i += 1) {
      const name = i.toString(16).padStart(2, '0');
      if (!existing.has(name)) {
        await mkdir(join(this.root, name), { mode: 0o700 });
        created = true;
      }
    }
    if (created) await fsyncDir(this.root);
  }

  path(key: string): string {
    if (!keyPattern.test(key)) throw new AppError('INTERNAL', [{ path: 'blobKey', issue: 'is not a blob key' }]);
    return join(this.root, key);
  }

  async create(options: { group?: string } = {}): Promise<BlobWriter> {
    // 122 random bits from the runtime's buffered generator (randomBytes costs a system call per key).
    const id = randomUUID().replace(/-/g, '');
    // Blobs of one request share a folder, so acknowledging them costs one folder fsync.
    const folder = options.group !== undefined && /^[0-9a-f]{2}$/.test(options.group) ? options.group : id.slice(0, 2);
    const key = `${folder}/${id}`;
    return new FsBlobWriter(key, this.path(key));
  }

  async commit(keys: readonly string[]): Promise<void> {
    const folders = new Set(keys.map((key) => key.slice(0, 2)));
    await Promise.all([...folders].map((folder) => fsyncDir(join(this.root, folder))));
  }

  async stream(key: string, range?: { start: number; end: number }): Promise<Readable> {
    // Open eagerly so a missing file is an error here, not on the response stream.
    const handle = await open(this.path(key), 'r');
    if (range !== undefined && range.end <= range.start) {
      await handle.close();
      return Readable.from([]);
    }
    return handle.createReadStream({ start: range?.start, end: range === undefined ? undefined : range.end - 1, highWaterMark: 1 << 20, autoClose: true });
  }

  async read(key: string, start: number, end: number): Promise<Buffer> {
    const handle = await open(this.path(key), 'r');
    try {
      const out = Buffer.allocUnsafe(Math.max(0, end - start));
      let done = 0;
      while (done < out.length) {
        const { bytesRead } = await handle.read(out, done, out.length - done, start + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done === out.length ? out : out.subarray(0, done);
    } finally {
      await handle.close();
    }
  }

  async size(key: string): Promise<number> {
    return (await stat(this.path(key))).size;
  }

  async delete(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((key) => rm(this.path(key), { force: true })));
    await this.commit(keys);
  }

  async *list(olderThan: number): AsyncIterable<string> {
    for (let i = 0; i < 256; i += 1) {
      const folder = i.toString(16).padStart(2, '0');
      let names: string[];
      try {
        names = await readdir(join(this.root, folder));
      } catch {
        continue;
      }
      for (const name of names) {
        const key = `${folder}/${name}`;
        if (!keyPattern.test(key)) continue;
        try {
          if ((await stat(join(this.root, key))).mtimeMs < olderThan) yield key;
        } catch {
          // Deleted meanwhile.
        }
      }
    }
  }

  async close(): Promise<void> {}
}

/**
 * Buffers up to FLUSH_BYTES before writing. A blob that fits (the usual instance) costs one open with O_DSYNC and one
 * write, which returns once the data are on stable storage (the same guarantee as write + fdatasync, one thread-pool
 * round trip fewer); a larger one is written in FLUSH_BYTES pieces and fdatasync'd once at the end.
 */
const FLUSH_BYTES = 8 * 1024 * 1024;
const { O_WRONLY, O_CREAT, O_EXCL } = fsConstants;
/** Not defined on Windows (no effect there: the folder store is for servers). */
const O_DSYNC = fsConstants.O_DSYNC ?? 0;

const openFd = promisify(fsOpen);
const writevFd = promisify(fsWritev);
const fdatasyncFd = promisify(fsFdatasync);
const fsyncFd = promisify(fsFsync);

class FsBlobWriter implements BlobWriter {
  private size = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private fd: number | undefined;
  /** The file was opened with O_DSYNC: each write is durable when it returns. */
  private syncWrites = false;
  private closed = false;
  private markCreated: () => void = () => undefined;
  readonly created: Promise<void>;

  constructor(
    readonly key: string,
    private readonly path: string,
  ) {
    this.created = new Promise<void>((resolve) => {
      this.markCreated = resolve;
    });
  }

  private async openFile(syncWrites: boolean): Promise<number> {
    if (this.fd === undefined) {
      this.fd = await openFd(this.path, O_WRONLY | O_CREAT | O_EXCL | (syncWrites ? O_DSYNC : 0), 0o600);
      this.syncWrites = syncWrites && O_DSYNC !== 0;
      this.markCreated();
    }
    return this.fd;
  }

  private async flush(fd: number): Promise<void> {
    if (this.pending.length === 0) return;
    const buffers = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    let remaining = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
    let queue = buffers;
    while (remaining > 0) {
      const { bytesWritten } = await writevFd(fd, queue);
      remaining -= bytesWritten;
      if (remaining > 0) {
        // Short write: drop what was written and retry with the rest.
        let skip = bytesWritten;
        const rest: Buffer[] = [];
        for (const buffer of queue) {
          if (skip >= buffer.length) skip -= buffer.length;
          else {
            rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
            skip = 0;
          }
        }
        queue = rest;
      }
    }
  }

  async write(chunk: Buffer): Promise<void> {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.size += chunk.length;
    if (this.pendingBytes >= FLUSH_BYTES) await this.flush(await this.openFile(false));
  }

  async finish(): Promise<{ key: string; size: number }> {
    try {
      // Still all in memory: one synchronous-data write makes it durable.
      const fd = await this.openFile(this.fd === undefined && this.size > 0);
      await this.flush(fd);
      if (!this.syncWrites) await fdatasyncFd(fd);
    } finally {
      this.close();
    }
    return { key: this.key, size: this.size };
  }

  /** close(2) of a regular file is a short system call: done here rather than as a thread-pool round trip. */
  private close(): void {
    this.closed = true;
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      closeSync(fd);
    } catch {
      // Nothing to recover: the data were synced (or the write failed) before.
    }
  }

  async abort(): Promise<void> {
    this.pending = [];
    this.markCreated();
    if (!this.closed) this.close();
    await rm(this.path, { force: true });
  }
}

export async function fsyncDir(path: string): Promise<void> {
  if (process.platform === 'win32') return;
  const fd = await openFd(path, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}
