import { randomUUID } from 'node:crypto';
import {
  closeSync,
  constants as fsConstants,
  fdatasync as fsFdatasync,
  fsync as fsFsync,
  open as fsOpen,
  write as fsWrite,
  writev as fsWritev,
} from 'node:fs';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { AppError } from '../../shared/errors/app-error.js';
import type { BlobStore, BlobWriter } from './blob-store.js';
import { nativeBlobIo, type ReadBlob, type WriteBlob } from './native-blob-io.js';

const keyPattern = /^[0-9a-f]{2}\/[0-9a-f]{32}$/;

/**
 * Blobs as files `<root>/<xx>/<32 hex>`: 256 fan-out folders created (and fsync'd) once, so acknowledging a write
 * costs one flush of the file and one fsync of its folder.
 */
export class FsBlobStore implements BlobStore {
  readonly kind = 'filesystem';

  private readonly directIo: DirectIo;
  private readonly nativeRead: ReadBlob | undefined;

  /**
   * `writes` chooses how blobs are written: `native` (default where built: one thread-pool task per blob, see
   * server/native), `direct` (direct I/O from JavaScript), `page-cache`. Each falls back to the next where unavailable;
   * PARADIM_NATIVE_BLOB=off and PARADIM_DIRECT_IO=off do the same from the environment.
   */
  constructor(
    private readonly root: string,
    options: { writes?: 'native' | 'direct' | 'page-cache' } = {},
  ) {
    const writes = options.writes ?? 'native';
    this.directIo = new DirectIo(writes === 'page-cache' ? false : undefined, writes === 'native');
    this.nativeRead = writes === 'native' ? nativeBlobIo()?.readBlob : undefined;
  }

  /** Whether blobs are written natively (one task per blob). */
  get writesNative(): boolean {
    return this.directIo.native !== undefined;
  }

  /** Whether blobs are written with direct I/O: undefined until the first write decides it, false where unsupported. */
  get writesDirect(): boolean | undefined {
    return this.directIo.usable;
  }

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
    return new FsBlobWriter(key, this.path(key), this.directIo);
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

  async read(key: string, start: number, end: number, into?: Buffer): Promise<Buffer> {
    const length = Math.max(0, end - start);
    const out = into !== undefined && into.length >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length);
    const readBlob = this.nativeRead;
    if (readBlob !== undefined) {
      // Open, read and close in one thread-pool task.
      const done = await new Promise<number>((resolve, reject) => {
        readBlob(this.path(key), start, out, (error, bytes) => (error === null ? resolve(bytes ?? 0) : reject(error)));
      });
      return done === out.length ? out : out.subarray(0, done);
    }
    const handle = await open(this.path(key), 'r');
    try {
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
 * How a blob is written, best first:
 * - native (server/native, where built): the part's buffers are kept (not copied) up to FLUSH_BYTES and written at the
 *   end in one thread-pool task (direct I/O for whole blocks, the tail with O_DSYNC);
 * - direct I/O from JavaScript: bytes are copied into a page-aligned staging buffer and whole blocks are sent as they
 *   arrive (a blob larger than FLUSH_BYTES moves to this path even where the native write is available);
 * - the page cache: buffered up to FLUSH_BYTES; a blob that fits costs one open with O_DSYNC and one write (durable
 *   on return), a larger one is written in FLUSH_BYTES pieces and fdatasync'd once at the end.
 */
const FLUSH_BYTES = 8 * 1024 * 1024;
const { O_WRONLY, O_CREAT, O_EXCL } = fsConstants;
/** Not defined on Windows (no effect there: the folder store is for servers). */
const O_DSYNC = fsConstants.O_DSYNC ?? 0;
/** Linux only (undefined elsewhere: those systems write through the page cache). */
const O_DIRECT = fsConstants.O_DIRECT ?? 0;

const openFd = promisify(fsOpen);
const writeFd = promisify(fsWrite);
const writevFd = promisify(fsWritev);
const fdatasyncFd = promisify(fsFdatasync);
const fsyncFd = promisify(fsFsync);

/**
 * Direct I/O (O_DIRECT) writes a blob from the process's memory to the device without a copy into the page cache.
 * On machines where fresh page-cache pages are expensive (virtual machines that hand free memory back to the host),
 * that copy was the largest single CPU cost of STOW-RS. Direct I/O needs memory, offsets and lengths aligned to the
 * device's block size: blobs are staged in page-aligned buffers and written in whole blocks as they arrive; the last
 * partial block goes through the page cache.
 */
const DIRECT_ALIGN = 4096;
const STAGE_BYTES = 1024 * 1024;
/** Staged bytes beyond which whole blocks are written without waiting for the blob's end. */
const STREAM_BYTES = 256 * 1024;
const SLAB_BUFFERS = 16;
const MAX_SLABS = 4;
const WASM_PAGE = 64 * 1024;
/** The part of the WebAssembly API used here (the server's type library has no WebAssembly declarations). */
declare const WebAssembly: { Memory: new (descriptor: { initial: number }) => { readonly buffer: ArrayBuffer } };

/**
 * Page-aligned staging buffers. WebAssembly memories start on a page boundary, which Node's Buffer allocator does
 * not promise; buffers are carved from 16 MiB memories, at most MAX_SLABS of them, and reused. When all are in use, a
 * writer goes through the page cache instead.
 */
class StagingPool {
  private readonly free: Buffer[] = [];
  private slabs = 0;

  take(): Buffer | undefined {
    if (this.free.length === 0 && this.slabs < MAX_SLABS) {
      this.slabs += 1;
      const memory = new WebAssembly.Memory({ initial: (STAGE_BYTES * SLAB_BUFFERS) / WASM_PAGE });
      for (let i = 0; i < SLAB_BUFFERS; i += 1) this.free.push(Buffer.from(memory.buffer, i * STAGE_BYTES, STAGE_BYTES));
    }
    return this.free.pop();
  }

  give(buffer: Buffer): void {
    this.free.push(buffer);
  }
}

/** Shared by the writers of one store: whether direct I/O works on its filesystem, and the staging buffers. */
class DirectIo {
  /** Undecided until the first direct write; false on systems or filesystems without it. */
  usable: boolean | undefined;
  readonly pool = new StagingPool();
  /** The one-task native write, where built and wanted. */
  readonly native: WriteBlob | undefined;

  constructor(usable: false | undefined, native: boolean) {
    this.usable = O_DIRECT === 0 || process.env.PARADIM_DIRECT_IO === 'off' ? false : usable;
    this.native = native && this.usable !== false ? nativeBlobIo()?.writeBlob : undefined;
  }
}

class FsBlobWriter implements BlobWriter {
  private size = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private fd: number | undefined;
  /** The file was opened with O_DSYNC: each write is durable when it returns. */
  private syncWrites = false;
  /**
   * Direct I/O: the staging buffer holds stage[issued, staged) not yet sent; stage[0, issued) is being written (or was)
   * at file offsets written - issued .. written. Writes are sent without waiting for the previous ones, so receiving
   * goes on while the device works; the buffer being full is what waits for them.
   */
  private stage: Buffer | undefined;
  private staged = 0;
  private issued = 0;
  private written = 0;
  private inflight: Promise<void>[] = [];
  private failure: unknown;
  private direct = false;
  private tailFd: Promise<number> | undefined;
  /** The native one-task write, while the blob still qualifies for it. */
  private native: WriteBlob | undefined;
  private markCreated: () => void = () => undefined;
  readonly created: Promise<void>;

  constructor(
    readonly key: string,
    private readonly path: string,
    private readonly directIo: DirectIo,
  ) {
    this.native = directIo.native;
    this.created = new Promise<void>((resolve) => {
      this.markCreated = resolve;
    });
  }

  private async openFile(flags: number): Promise<number> {
    if (this.fd === undefined) {
      this.fd = await openFd(this.path, O_WRONLY | O_CREAT | O_EXCL | flags, 0o600);
      this.syncWrites = (flags & O_DSYNC) !== 0 && O_DSYNC !== 0;
      this.direct = (flags & O_DIRECT) !== 0 && O_DIRECT !== 0;
      if (this.direct) {
        // For the last partial block (see finish), opened now so that it is ready when the blob ends.
        this.tailFd = openFd(this.path, O_WRONLY | O_DSYNC, 0o600);
        this.tailFd.catch(() => undefined);
      }
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
    if (this.native !== undefined && this.fd === undefined && this.stage === undefined) {
      // Kept (not copied) for the one-task native write at the end, as long as the blob fits in FLUSH_BYTES.
      if (this.pendingBytes + chunk.length <= FLUSH_BYTES) {
        this.pending.push(chunk);
        this.pendingBytes += chunk.length;
        this.size += chunk.length;
        return;
      }
      // Larger: from here on the blob is streamed, starting with what was kept.
      const kept = this.pending;
      this.native = undefined;
      this.pending = [];
      this.size -= this.pendingBytes;
      this.pendingBytes = 0;
      for (const earlier of kept) await this.write(earlier);
    }
    this.size += chunk.length;
    if (this.stage === undefined && this.pendingBytes === 0 && this.directIo.usable !== false) this.stage = this.directIo.pool.take();
    if (this.stage === undefined) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes >= FLUSH_BYTES) await this.flush(await this.openFile(0));
      return;
    }
    let offset = 0;
    while (offset < chunk.length) {
      if (this.staged === STAGE_BYTES) await this.rewind();
      const take = Math.min(chunk.length - offset, STAGE_BYTES - this.staged);
      chunk.copy(this.stage, this.staged, offset, offset + take);
      this.staged += take;
      offset += take;
      // Whole blocks go out while the rest arrives, so that only a short tail is left when the blob ends.
      if (this.staged - this.issued >= STREAM_BYTES) await this.send(this.staged - this.issued - ((this.staged - this.issued) % DIRECT_ALIGN));
    }
  }

  /** Sends the next `length` staged bytes (whole blocks), to be written at the end of what was sent before. */
  private async send(length: number): Promise<void> {
    const stage = this.stage;
    if (stage === undefined || length === 0) return;
    if (this.failure !== undefined) throw this.failure;
    const from = this.issued;
    const position = this.written;
    this.issued += length;
    this.written += length;
    const proven = this.directIo.usable === true;
    let fd = await this.openFile(this.directIo.usable === false ? 0 : O_DIRECT).catch(async (error: unknown) => {
      // A filesystem without direct I/O (e.g. some network or FUSE filesystems) refuses it at open.
      if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
      this.directIo.usable = false;
      return this.openFile(0);
    });
    if (proven && this.direct) {
      const write = writeAll(fd, stage, length, position, from).catch((error: unknown) => {
        this.failure ??= error;
      });
      this.inflight.push(write);
      return;
    }
    // Until a direct write has succeeded on this store, writes are awaited: where direct I/O turns out unusable,
    // this blob and the store go on through the page cache.
    try {
      await writeAll(fd, stage, length, position, from);
      if (this.direct) this.directIo.usable = true;
    } catch (error) {
      // Alignment the device does not accept: nothing was written; continue this blob (and the store) buffered.
      if (!this.direct || position > 0 || (error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
      this.directIo.usable = false;
      this.close();
      this.direct = false;
      fd = this.fd = await openFd(this.path, O_WRONLY, 0o600);
      await writeAll(fd, stage, length, position, from);
    }
  }

  /** Waits for the writes in flight, then moves the unsent bytes to the front of the staging buffer. */
  private async rewind(): Promise<void> {
    await this.settle();
    const stage = this.stage;
    if (stage === undefined) return;
    if (this.issued < this.staged) stage.copyWithin(0, this.issued, this.staged);
    this.staged -= this.issued;
    this.issued = 0;
  }

  private async settle(): Promise<void> {
    while (this.inflight.length > 0) {
      const writes = this.inflight;
      this.inflight = [];
      await Promise.all(writes);
    }
    if (this.failure !== undefined) throw this.failure;
  }

  private releaseStage(): void {
    if (this.stage === undefined) return;
    this.directIo.pool.give(this.stage);
    this.stage = undefined;
    this.staged = 0;
    this.issued = 0;
  }

  async finish(): Promise<{ key: string; size: number }> {
    const native = this.native;
    if (native !== undefined && this.fd === undefined && this.stage === undefined) {
      const buffers = this.pending;
      this.pending = [];
      try {
        const directBytes = await new Promise<number>((resolve, reject) => {
          native(this.path, buffers, (error, bytes) => (error === null ? resolve(bytes ?? 0) : reject(error)));
        });
        // A blob of a block or more written without direct I/O means the filesystem refused it.
        if (this.size >= DIRECT_ALIGN) this.directIo.usable = directBytes > 0;
      } finally {
        this.markCreated();
      }
      return { key: this.key, size: this.size };
    }
    try {
      if (this.stage !== undefined && this.fd === undefined && this.staged < DIRECT_ALIGN) {
        // Less than a block in all: one synchronous-data write, as below.
        const fd = await this.openFile(this.size > 0 ? O_DSYNC : 0);
        await writeAll(fd, this.stage, this.staged, 0, 0);
        if (!this.syncWrites) await fdatasyncFd(fd);
      } else if (this.stage !== undefined) {
        const unsent = this.staged - this.issued;
        const tail = this.direct || this.directIo.usable !== false ? unsent % DIRECT_ALIGN : 0;
        await this.send(unsent - tail);
        await this.settle();
        const fd = this.fd ?? (await this.openFile(0));
        const tailFd = this.direct ? await this.tailFd : undefined;
        if (tailFd !== undefined && tail > 0) {
          // The last partial block cannot go through direct I/O: the second descriptor writes it with O_DSYNC. That
          // write returns once the tail, the file's size and allocation are stable and the device cache is flushed,
          // which covers the direct writes that completed before it: one flush for the whole blob, no padding.
          await writeAll(tailFd, this.stage, tail, this.written, this.issued);
        } else {
          await this.send(this.staged - this.issued);
          await this.settle();
          await fdatasyncFd(fd);
        }
      } else {
        // Still all in memory: one synchronous-data write makes it durable.
        const fd = await this.openFile(this.fd === undefined && this.size > 0 ? O_DSYNC : 0);
        await this.flush(fd);
        if (!this.syncWrites) await fdatasyncFd(fd);
      }
    } finally {
      await Promise.all(this.inflight);
      this.releaseStage();
      this.close();
    }
    return { key: this.key, size: this.size };
  }

  /** close(2) of a regular file is a short system call: done here rather than as a thread-pool round trip. */
  private close(): void {
    const tailFd = this.tailFd;
    this.tailFd = undefined;
    tailFd?.then(
      (fd) => closeSync(fd),
      () => undefined,
    );
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
    await Promise.all(this.inflight);
    this.releaseStage();
    this.markCreated();
    this.close();
    await rm(this.path, { force: true });
  }
}

/** Writes buffer[from, from + length) at `position`, however many calls that takes. */
async function writeAll(fd: number, buffer: Buffer, length: number, position: number, from: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesWritten } = await writeFd(fd, buffer, from + done, length - done, position + done);
    if (bytesWritten === 0) throw new Error('the filesystem accepted no bytes');
    done += bytesWritten;
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
