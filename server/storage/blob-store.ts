import type { Readable } from 'node:stream';

/**
 * Where instance bytes live: the filesystem (default) or S3-compatible object storage. Blobs are immutable and
 * named by opaque keys the store chooses; the index maps DICOM UIDs to keys. A blob that no index row names is an
 * orphan (a crash between writing and indexing, or between un-indexing and deleting) and is removed by `repair`.
 */
export interface BlobStore {
  readonly kind: 'filesystem' | 's3';
  init(): Promise<void>;
  /**
   * A new blob under a fresh key; bytes are written in order, then `finish` or `abort`. `group` (two hex digits) is a
   * placement hint: blobs of one request share it so the filesystem store fsyncs one folder for them.
   */
  create(options?: { group?: string }): Promise<BlobWriter>;
  /** Makes finished blobs durable before they are acknowledged (filesystem: fsync of their folders). */
  commit(keys: readonly string[]): Promise<void>;
  /** Reads a byte range [start, end) or the whole blob. */
  stream(key: string, range?: { start: number; end: number }): Promise<Readable>;
  /** Reads [start, end); `into` (at least end - start bytes) is where the filesystem store puts them, to reuse memory. */
  read(key: string, start: number, end: number, into?: Buffer): Promise<Buffer>;
  size(key: string): Promise<number>;
  delete(keys: readonly string[]): Promise<void>;
  /** All keys whose blobs were last written before `olderThan` (ms since epoch): orphan candidates. */
  list(olderThan: number): AsyncIterable<string>;
  close(): Promise<void>;
}

export interface BlobWriter {
  readonly key: string;
  /**
   * Resolves once the blob exists under its key, before its bytes are durable (filesystem: the file is created), so
   * `commit` can run alongside `finish`; undefined where that makes no difference (S3).
   */
  readonly created?: Promise<void>;
  write(chunk: Buffer): Promise<void>;
  /** All bytes written: flushed to stable storage (filesystem: fsync of the file) or uploaded (S3). */
  finish(): Promise<{ key: string; size: number }>;
  /** Discards what was written. */
  abort(): Promise<void>;
}
