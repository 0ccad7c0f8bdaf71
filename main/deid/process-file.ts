import { randomBytes } from 'node:crypto';
import { threadId } from 'node:worker_threads';
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeSync, writevSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { WindowedSource, type ByteSource } from '../../shared/dicom/byte-source.js';
import { parseDicom } from '../../shared/dicom/parser.js';
import type { Segment } from '../../shared/dicom/writer.js';
import type { DeidEngine, DeidIdentity, FileReport, FileStatus } from '../../shared/deid/engine.js';
import { AppError, isAppError } from '../../shared/errors/app-error.js';
import { describeFsError } from '../services/atomic-write.js';
import { nativeCopyRange, nativeStartWriteback } from './native-copy.js';

export interface FileTask {
  /** Absolute input path. */
  readonly path: string;
  /** Path relative to the input folder (for the steward's listing; never used for output names). */
  readonly rel: string;
}

export interface FileResult {
  readonly rel: string;
  readonly status: FileStatus;
  readonly code?: string;
  readonly reason?: string;
  /** Output path relative to the output folder (built from the new UIDs: carries no PHI). */
  readonly output?: string;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Of bytesOut, the bytes the kernel copied from the input (copy_file_range) without passing through memory. */
  readonly bytesCopiedInKernel?: number;
  readonly report?: FileReport;
  /** The per-file report as one JSON line (input path, output path and the report). */
  readonly reportJson: string;
  readonly identity?: DeidIdentity;
  /** With group durability: the temp file to flush and rename to `output`. */
  readonly pendingTemp?: string;
  /** For INTERNAL failures: the stack, for the log only (never in reports). */
  readonly bug?: string;
}

export type Durability = 'each' | 'group' | 'none';

export interface WriteOptions {
  readonly outDir: string;
  /**
   * `each`: fsync every file, then rename it. `group`: write the temp file and leave the flush and rename to the
   * batch (one filesystem flush for many files, then the renames). `none`: rename without flushing.
   */
  readonly durability: Durability;
}

/** The kernel-side range copy (native module; undefined without it). */
const copyRange = nativeCopyRange();
/**
 * The read window: with the kernel copy, only headers need to come into memory (64 KiB covers most); without it, 1 MiB,
 * so that most single-frame files are read with one call and written from memory.
 */
const windowBuffer = new Uint8Array(copyRange === undefined ? 1 << 20 : 64 * 1024);
/** Temp names: 12 hex digits, unique per process and thread (random prefix, counter), without a random call per file. */
const tempPrefix = randomBytes(2).toString('hex') + (threadId & 0xff).toString(16).padStart(2, '0');
let tempCounter = 0;
const copyBuffer = Buffer.allocUnsafe(1 << 20);
const createdDirs = new Set<string>();
/** Early writeback for group flushes (native module; undefined without it). */
const startWriteback = nativeStartWriteback();

/** Error codes on which the kernel copy is not possible for these files (filesystem, kernel): copy in JavaScript. */
const COPY_FALLBACK = new Set(['EXDEV', 'ENOSYS', 'EOPNOTSUPP', 'EINVAL']);
/** Set once the kernel refused a copy: this thread copies in JavaScript from then on. */
let kernelCopyRefused = false;

/** Writes all of `data` at `position`. */
function writeAllAt(fd: number, data: Uint8Array, position: number): void {
  let written = 0;
  while (written < data.length) written += writeSync(fd, data, written, data.length - written, position + written);
}

/**
 * Copies a range of the input file to `position` of the output: in the kernel when the native module is there (the
 * bytes never enter this process), else through a buffer; returns true when the kernel did the copy. Every write is
 * positioned: the kernel copy does not move the descriptor's offset.
 */
function copyRangeTo(inFd: number, offset: number, length: number, fd: number, position: number): boolean {
  let done = 0;
  if (copyRange !== undefined && !kernelCopyRefused) {
    try {
      done = copyRange(inFd, offset, fd, position, length);
      if (done < length) throw new AppError('DEID_INPUT_UNREADABLE', [{ path: '', issue: 'the file shrank while it was being read (changed during the batch)' }]);
      return true;
    } catch (error) {
      if (!COPY_FALLBACK.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
      // E.g. input and output on different kinds of filesystem: copy this and later ranges in JavaScript.
      kernelCopyRefused = true;
      done = 0;
    }
  }
  while (done < length) {
    const want = Math.min(copyBuffer.length, length - done);
    const got = readSync(inFd, copyBuffer, 0, want, offset + done);
    if (got <= 0) throw new AppError('DEID_INPUT_UNREADABLE', [{ path: '', issue: 'the file shrank while it was being read (changed during the batch)' }]);
    writeAllAt(fd, copyBuffer.subarray(0, got), position + done);
    done += got;
  }
  return false;
}

/** Streams the new meta, the header chunks and the untouched source ranges into `path` (temp, fsync, rename). */
function writeOutput(
  path: string,
  meta: Uint8Array,
  segments: readonly Segment[],
  source: ByteSource,
  inFd: number | undefined,
  durability: Durability,
): { bytes: number; kernelBytes: number; pendingTemp?: string } {
  const dir = dirname(path);
  if (!createdDirs.has(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    createdDirs.add(dir);
  }
  const temp = join(dir, `.${tempPrefix}${(tempCounter++).toString(16).padStart(6, '0')}.tmp`);
  let fd: number;
  try {
    fd = openSync(temp, 'wx', 0o600);
  } catch (error) {
    // The folder was removed since it was created (e.g. a second batch into a deleted output): create it again.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    fd = openSync(temp, 'wx', 0o600);
  }
  let total = 0;
  let kernelBytes = 0;
  try {
    // Consecutive header chunks go out in one writev.
    let pendingChunks: Uint8Array[] = [meta];
    const flush = (): void => {
      const length = pendingChunks.reduce((sum, chunk) => sum + chunk.length, 0);
      const written = writevSync(fd, pendingChunks, total);
      if (written < length) writeAllAt(fd, Buffer.concat(pendingChunks).subarray(written), total + written);
      total += length;
      pendingChunks = [];
    };
    for (const segment of segments) {
      if (segment instanceof Uint8Array) {
        pendingChunks.push(segment);
        continue;
      }
      flush();
      const inWindow = source instanceof WindowedSource ? source.peek(segment.offset, segment.length) : undefined;
      if (inWindow !== undefined) writeAllAt(fd, inWindow, total);
      else if (inFd === undefined) writeAllAt(fd, source.read(segment.offset, segment.length), total);
      else if (copyRangeTo(inFd, segment.offset, segment.length, fd, total)) kernelBytes += segment.length;
      total += segment.length;
    }
    flush();
    if (durability === 'each') fsyncSync(fd);
    // The group flush comes later: start writing this file now, so that the flush finds little left to write.
    else if (durability === 'group') startWriteback?.(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  if (durability === 'group') return { bytes: total, kernelBytes, pendingTemp: temp };
  renameSync(temp, path);
  return { bytes: total, kernelBytes };
}

/** Why an input file or folder cannot be read, in words (the counterpart of describeFsError for writes). */
export function describeReadError(error: unknown): string {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  if (code === 'ENOENT') return 'it no longer exists';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ELOOP') return 'too many levels of symbolic links';
  return code === '' ? 'it cannot be read' : `it cannot be read (${code})`;
}

/** The map identity of an input file already de-identified by an earlier run (headers only); undefined if unreadable. */
export function readIdentity(path: string, engine: DeidEngine): DeidIdentity | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const inFd = fd;
    const source = new WindowedSource(fstatSync(fd).size, (position, target) => readSync(inFd, target, 0, target.length, position), windowBuffer);
    return engine.identityOf(parseDicom(source, { inflate: (bytes) => new Uint8Array(inflateRawSync(bytes)) }));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Reads, de-identifies and writes one file. Never throws for a bad file: the result says what happened. */
export function processFile(task: FileTask, engine: DeidEngine, options: WriteOptions): FileResult {
  const result = processFileInner(task, engine, options);
  if (result.report === undefined) {
    const line = { input: result.rel, output: result.output, code: result.code, ...engine.describe(), status: result.status, reason: result.reason };
    return { ...result, reportJson: JSON.stringify(line) };
  }
  return { ...result, reportJson: reportLine(result.rel, result.output, result.code, result.report) };
}

/** JSON of action records without their hash, by path, action and rule: the same few hundred repeat in every file. */
const actionJson = new Map<string, string>();

/**
 * The report as one JSON line: the same text as JSON.stringify of `{input, output, code, ...report}`, with the action
 * records (most of the text) assembled from cached pieces.
 */
export function reportLine(input: string, output: string | undefined, code: string | undefined, report: FileReport): string {
  let actions = '';
  for (const action of report.actions) {
    const key = `${action.path}\u0000${action.action}\u0000${action.rule}`;
    let head = actionJson.get(key);
    if (head === undefined) {
      head = JSON.stringify({ path: action.path, keyword: action.keyword, action: action.action, rule: action.rule }).slice(0, -1);
      if (actionJson.size >= 10_000) actionJson.clear();
      actionJson.set(key, head);
    }
    actions += `${actions === '' ? '' : ','}${head}${action.oldValueHash === undefined ? '}' : `,"oldValueHash":${JSON.stringify(action.oldValueHash)}}`}`;
  }
  // Every quote inside a JSON string is escaped, so the first `"actions":[]` is the property itself.
  return JSON.stringify({ input, output, code, ...report, actions: [] }).replace('"actions":[]', () => `"actions":[${actions}]`);
}

function processFileInner(task: FileTask, engine: DeidEngine, options: WriteOptions): Omit<FileResult, 'reportJson'> {
  let fd: number | undefined;
  let size = 0;
  try {
    try {
      fd = openSync(task.path, 'r');
    } catch (error) {
      return { rel: task.rel, status: 'failed', code: 'DEID_INPUT_UNREADABLE', reason: `the file cannot be opened: ${describeReadError(error)}`, bytesIn: 0, bytesOut: 0 };
    }
    size = fstatSync(fd).size;
    const inFd = fd;
    // The read window (see windowBuffer), reused from file to file: files are processed one at a time per thread.
    const source = new WindowedSource(size, (position, target) => readSync(inFd, target, 0, target.length, position), windowBuffer);
    const file = parseDicom(source, { inflate: (bytes) => new Uint8Array(inflateRawSync(bytes)) });
    const outcome = engine.process(file);
    if (outcome.status !== 'deidentified') {
      return { rel: task.rel, status: outcome.status, code: outcome.code, reason: outcome.reason, bytesIn: size, bytesOut: 0, report: outcome.report };
    }
    // study/series/instance from the new UIDs, plus a keyed tag of the source path: copies of one instance in several
    // encodings (same SOP Instance UID) stay separate files, and names are the same in every run with the same key.
    const tag = engine.pseudonymizer.sourceTag(task.rel);
    const output = join(outcome.ids.study || 'no-study-uid', outcome.ids.series || 'no-series-uid', `${outcome.ids.sop || 'no-sop-uid'}_${tag}.dcm`);
    const sameSource = outcome.source === source;
    const written = writeOutput(join(options.outDir, output), outcome.meta, outcome.segments, outcome.source, sameSource ? inFd : undefined, options.durability);
    return {
      rel: task.rel,
      status: 'deidentified',
      output,
      bytesIn: size,
      bytesOut: written.bytes,
      bytesCopiedInKernel: written.kernelBytes,
      report: outcome.report,
      identity: outcome.identity,
      ...(written.pendingTemp === undefined ? {} : { pendingTemp: written.pendingTemp }),
    };
  } catch (error) {
    if (isAppError(error)) {
      const reason = error.details.map((detail) => (detail.path === '' ? detail.issue : `${detail.path}: ${detail.issue}`)).join('; ') || error.message;
      return { rel: task.rel, status: 'failed', code: error.code, reason, bytesIn: size, bytesOut: 0 };
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return { rel: task.rel, status: 'failed', code: 'STORAGE_WRITE_FAILED', reason: describeFsError(error), bytesIn: size, bytesOut: 0 };
    return {
      rel: task.rel,
      status: 'failed',
      code: 'INTERNAL',
      reason: 'unexpected error (a bug; details in the log)',
      bytesIn: size,
      bytesOut: 0,
      bug: error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : 'non-Error thrown',
    };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
