import { createHash } from 'node:crypto';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { closeSync, fsyncSync, linkSync, utimesSync, openSync, readFileSync, readSync, readdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, writeSync, type Dirent } from 'node:fs';
import { hostname } from 'node:os';
import { mkdir, open, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import type { DeidProfile } from '../../shared/deid/profile.js';
import type { DeidIdentity, FileStatus } from '../../shared/deid/engine.js';
import { AppError } from '../../shared/errors/app-error.js';
import { writeFileAtomic } from '../services/atomic-write.js';
import { profileDigest as digestOf } from '../../shared/deid/profile.js';
import { createLogger } from '../logging/logger.js';
import { appVersion } from '../version.js';
import { createDeidEngine } from './engine-factory.js';
import { nodeDeidCrypto } from './node-crypto.js';
import { describeReadError, processFile, readIdentity, type Durability, type FileResult, type FileTask } from './process-file.js';
import { mergeReidMap, processAlive, readReidMap, type MapSealer } from './reid-map.js';
import { createHmac } from 'node:crypto';

export interface BatchProgress {
  readonly filesDone: number;
  readonly filesTotal: number;
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly elapsedMs: number;
}

export interface BatchOptions {
  readonly input: string;
  readonly output: string;
  readonly reportsDir: string;
  readonly profile: DeidProfile;
  readonly key: Uint8Array;
  /** 0 runs in this thread; otherwise a pool of worker threads running `workerScript`. */
  readonly workers: number;
  readonly workerScript?: string;
  /** Default `group`: one filesystem flush per group of files before their renames (see WriteOptions). */
  readonly durability?: Durability;
  readonly map?: { readonly path: string; readonly sealer: MapSealer };
  readonly onProgress?: (progress: BatchProgress) => void;
  readonly onFile?: (result: FileResult) => void;
  readonly signal?: AbortSignal;
}

export interface BatchSummary {
  readonly engineVersion: string;
  readonly profile: { readonly name: string; readonly version: string; readonly digest: string };
  readonly counts: Record<FileStatus | 'skipped' | 'resumed', number>;
  readonly filesTotal: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Of bytesOut, the bytes copied in the kernel (pixel data carried unchanged); 0 when copied through memory. */
  readonly bytesCopiedInKernel: number;
  readonly elapsedMs: number;
  readonly peakRssBytes: number;
  readonly cancelled: boolean;
  /** Files that were not de-identified, with the reason (paths relative to the input folder). */
  readonly problems: readonly { readonly input: string; readonly status: string; readonly code: string; readonly reason: string }[];
  /** Problems beyond the first 1,000 are only in files.jsonl (memory stays bounded whatever the batch size). */
  readonly problemsOmitted: number;
  readonly pseudonymCollisions: number;
  readonly notes: readonly string[];
}

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

const logger = createLogger({ name: 'deid' });

interface WalkEntry {
  readonly path: string;
  readonly rel: string;
  /** Why this entry cannot be read (it is reported as failed and the batch goes on). */
  readonly error?: string;
}

function relOf(root: string, path: string): string {
  return relative(root, path).split(sep).join('/') || '.';
}

/**
 * Every regular file below `root` (any name), depth first, in a stable order. Symbolic links are followed (a link
 * back to a folder already walked is skipped); folders in `skip` (the output and reports) are never entered. An entry
 * that cannot be read is listed with the reason. Synchronous: no thread-pool hops.
 */
function* walk(root: string, skip: readonly string[], dir = root, seen = new Set<string>()): Generator<WalkEntry> {
  let entries: Dirent[];
  try {
    const real = realpathSync(dir);
    if (seen.has(real)) return;
    if (skip.some((folder) => isInside(real, folder))) {
      yield { path: dir, rel: relOf(root, dir), error: 'it leads into the output or reports folder: not read' };
      return;
    }
    seen.add(real);
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    yield { path: dir, rel: relOf(root, dir), error: `the folder cannot be read: ${describeReadError(error)}` };
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    // This tool's own bookkeeping (an earlier output folder used as input): not data.
    if (entry.name === ORIGIN_FILE || entry.name === LOCK_FILE) continue;
    const path = join(dir, entry.name);
    const rel = relOf(root, path);
    if (entry.name.includes('\uFFFD')) {
      yield { path, rel, error: 'its name is not valid UTF-8 on this system: rename it and run again' };
      continue;
    }
    let isDirectory = entry.isDirectory();
    let isFile = entry.isFile();
    if (entry.isSymbolicLink()) {
      try {
        const target = statSync(path);
        isDirectory = target.isDirectory();
        isFile = target.isFile();
        if (isFile && skip.some((folder) => isInside(realpathSync(path), folder))) {
          yield { path, rel, error: 'it leads into the output or reports folder: not read' };
          continue;
        }
      } catch (error) {
        yield { path, rel, error: `the symbolic link cannot be followed: ${describeReadError(error)}` };
        continue;
      }
    }
    if (isDirectory) yield* walk(root, skip, path, seen);
    else if (isFile) yield { path, rel };
  }
}

/** The real path of a folder that may not exist yet: its nearest existing parent resolved, the rest appended. */
function realFolder(path: string): string {
  const missing: string[] = [];
  let current = resolve(path);
  for (;;) {
    try {
      return join(realpathSync(current), ...missing.reverse());
    } catch {
      const parent = dirname(current);
      if (parent === current) return resolve(path);
      missing.push(current.slice(parent.length).replace(/^[\\/]/, ''));
      current = parent;
    }
  }
}

/**
 * Checks where the input, output, reports, key and map are, by real path (symbolic links resolved), before anything
 * is created: outputs must not land in the input, and what stays on the workstation (reports, key, map) must not
 * travel with the output.
 */
export function checkBatchFolders(folders: { input: string; output: string; reportsDir: string; keyPath?: string; mapPath?: string }): void {
  const input = realFolder(folders.input);
  const output = realFolder(folders.output);
  const reports = realFolder(folders.reportsDir);
  if (isInside(output, input) || isInside(input, output)) throw new AppError('INVALID_INPUT', [{ path: 'output', issue: 'must not be inside the input folder, nor contain it' }]);
  if (isInside(reports, output)) throw new AppError('INVALID_INPUT', [{ path: 'reports', issue: 'must not be inside the output folder (reports stay on the workstation)' }]);
  if (isInside(reports, input)) throw new AppError('INVALID_INPUT', [{ path: 'reports', issue: 'must not be inside the input folder' }]);
  for (const [name, path] of [['key', folders.keyPath], ['map', folders.mapPath]] as const) {
    if (path === undefined) continue;
    const real = realFolder(path);
    if (isInside(real, output)) throw new AppError('INVALID_INPUT', [{ path: name, issue: 'must not be inside the output folder (it stays on the workstation)' }]);
    if (isInside(real, input)) throw new AppError('INVALID_INPUT', [{ path: name, issue: 'must not be inside the input folder' }]);
  }
}

/**
 * One run at a time per folder (output, reports): a second run would remove the first one's files in progress. The
 * lock file is created whole (written beside, then hard-linked into place; created directly where the filesystem has
 * no hard links, e.g. FAT) and names the process and the machine. The holder touches it every few seconds: a lock of
 * a dead process on this machine, or one nobody has touched for a minute (a run on another machine or container that
 * died), is taken over.
 */
class FolderLock {
  private readonly path: string;
  private readonly heartbeat: NodeJS.Timeout;
  constructor(folder: string, name: string) {
    this.path = join(folder, LOCK_FILE);
    const me = { pid: process.pid, host: hostname() };
    for (let attempt = 0; attempt < 2; attempt++) {
      if (this.create(`${JSON.stringify(me)}\n`, folder, name)) {
        this.heartbeat = setInterval(() => {
          const now = new Date();
          try {
            utimesSync(this.path, now, now);
          } catch {
            // Removed under us: nothing to keep alive.
          }
        }, 5_000).unref();
        return;
      }
      const holder = readJsonIfAny(this.path) as { pid?: number; host?: string } | undefined;
      const pid = holder?.pid;
      const fresh = Date.now() - (statSafe(this.path)?.mtimeMs ?? 0) < 60_000;
      const alive = typeof pid === 'number' && (holder?.host === me.host ? pid !== process.pid && processAlive(pid) : fresh);
      if (alive) {
        const where = holder?.host === me.host ? '' : ` on ${holder?.host ?? 'another machine'}`;
        throw new AppError('INVALID_INPUT', [{ path: name, issue: `another paradim-deid run (process ${pid}${where}) is using ${folder}; if none is running, delete ${this.path}` }]);
      }
      // Left by a run that ended without cleaning up (or unreadable): taken over.
      rmSync(this.path, { force: true });
    }
    throw new AppError('INVALID_INPUT', [{ path: name, issue: `${folder} is locked by another run (${this.path})` }]);
  }

  /** True when the lock was created; false when it exists. */
  private create(content: string, folder: string, name: string): boolean {
    const denied = (error: unknown): AppError | undefined => {
      const code = (error as NodeJS.ErrnoException).code;
      return code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? new AppError('INVALID_INPUT', [{ path: name, issue: `${folder} cannot be written (permission denied or read-only)` }]) : undefined;
    };
    const temp = `${this.path}.${process.pid}.tmp`;
    try {
      writeFileSync(temp, content, { mode: 0o600 });
    } catch (error) {
      throw denied(error) ?? error;
    }
    try {
      linkSync(temp, this.path);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      // No hard links here (FAT, exFAT, some network shares): create it directly.
      try {
        writeFileSync(this.path, content, { flag: 'wx', mode: 0o600 });
        return true;
      } catch (direct) {
        if ((direct as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw denied(direct) ?? direct;
      }
    } finally {
      rmSync(temp, { force: true });
    }
  }

  release(): void {
    clearInterval(this.heartbeat);
    rmSync(this.path, { force: true });
  }
}

function statSafe(path: string): { mtimeMs: number } | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}


/**
 * Flushes the output filesystem (syncfs through `sync -f`) from one long-lived shell, so that a flush costs a fork of
 * that small process rather than a spawn from this large one (about 10 ms of this thread's time each). Linux only.
 */
class FilesystemSyncer {
  readonly #child: ChildProcessByStdio<Writable, Readable, null>;
  #answers: ((ok: boolean) => void)[] = [];
  #buffered = '';
  #dead = false;

  constructor(dir: string) {
    // The folder is an argument, never part of the script; each input line asks for one flush, each answer line says
    // whether it worked.
    this.#child = spawn('sh', ['-c', 'while read -r _; do if sync -f "$1"; then echo ok; else echo fail; fi; done', 'paradim-syncfs', dir], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    const die = (): void => {
      this.#dead = true;
      for (const answer of this.#answers.splice(0)) answer(false);
    };
    this.#child.on('error', die);
    this.#child.on('exit', die);
    this.#child.stdin.on('error', die);
    this.#child.stdout.setEncoding('utf8');
    this.#child.stdout.on('data', (text: string) => {
      this.#buffered += text;
      let end: number;
      while ((end = this.#buffered.indexOf('\n')) >= 0) {
        const line = this.#buffered.slice(0, end);
        this.#buffered = this.#buffered.slice(end + 1);
        this.#answers.shift()?.(line === 'ok');
      }
    });
  }

  /** True when the filesystem was flushed; false when it could not be (the caller fsyncs file by file). */
  flush(): Promise<boolean> {
    if (this.#dead) return Promise.resolve(false);
    return new Promise((resolveFlush) => {
      this.#answers.push(resolveFlush);
      this.#child.stdin.write('flush\n');
    });
  }

  close(): void {
    this.#child.stdin.end();
  }
}

/**
 * Makes the data of the given files durable: one syncfs of the output filesystem on Linux, else (or if that fails) an
 * fsync of each file. Asynchronous: the workers go on with the next files while the disk catches up.
 */
async function flushFiles(syncer: FilesystemSyncer | undefined, files: readonly string[]): Promise<void> {
  if (syncer !== undefined && (await syncer.flush())) return;
  for (const file of files) {
    const handle = await open(file, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

/** Temp files left by a crash or a cancel before their group was committed. */
function removeStrayTemps(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) removeStrayTemps(path);
    else if (/^\.[0-9a-f]{12}\.tmp$/.test(entry.name)) rmSync(path, { force: true });
  }
}

function fsyncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some platforms cannot fsync a directory; the renames are still atomic.
  }
}

function journalKey(rel: string, size: number, mtimeMs: number): string {
  return createHash('sha256').update(`${rel}\u0000${size}\u0000${Math.round(mtimeMs)}`).digest('hex').slice(0, 32);
}

/**
 * An append-only JSON-lines file, buffered: losing the last lines in a crash only means those files are done again,
 * and outputs are deterministic and written atomically, so redoing them is harmless.
 */
class AppendLog {
  private readonly fd: number;
  private buffer: string[] = [];
  private size = 0;
  constructor(path: string) {
    this.fd = openSync(path, 'a', 0o600);
  }
  line(value: unknown): void {
    this.text(JSON.stringify(value));
  }
  text(line: string): void {
    this.buffer.push(line);
    this.size += line.length;
    if (this.size > 256 * 1024) this.flush();
  }
  flush(): void {
    if (this.buffer.length === 0) return;
    const data = Buffer.from(`${this.buffer.join('\n')}\n`);
    this.buffer = [];
    this.size = 0;
    writeAll(this.fd, data);
  }
  sync(): void {
    this.flush();
    fsyncSync(this.fd);
  }
  close(): void {
    this.sync();
    closeSync(this.fd);
  }
}

/** Files listed once and kept for the second pass up to this many (beyond, the folder is walked again). */
const LISTING_LIMIT = 50_000;

/** Files sent to a worker in one message (and answered in one): messages cost more than a small file's work. */
const CHUNK = 16;

class WorkerPool {
  private readonly workers: Worker[] = [];
  /** In-flight tasks per worker: a crashed worker fails only its own tasks, and is replaced. */
  private readonly inFlight = new Map<Worker, Map<number, { task: FileTask; done: (result: FileResult) => void }>>();
  /** Tasks assigned to a worker but not posted yet (posted when the chunk is full, or on the next turn). */
  private readonly unsent = new Map<Worker, { id: number; task: FileTask }[]>();
  private nextId = 0;
  private closing = false;
  private flushScheduled = false;
  /** Replacements left: a worker that cannot even start must not be respawned forever. */
  private respawns = 16;

  constructor(
    private readonly script: string,
    count: number,
    private readonly data: unknown,
  ) {
    for (let i = 0; i < count; i++) this.spawn();
  }

  private spawn(): void {
    const worker = new Worker(this.script, { workerData: this.data });
    const tasks = new Map<number, { task: FileTask; done: (result: FileResult) => void }>();
    worker.on('message', (message: { results: { id: number; result: FileResult }[] }) => {
      for (const { id, result } of message.results) {
        const entry = tasks.get(id);
        tasks.delete(id);
        entry?.done(result);
      }
    });
    const fail = (reason: string): void => {
      this.workers.splice(this.workers.indexOf(worker), 1);
      this.inFlight.delete(worker);
      this.unsent.delete(worker);
      for (const { task, done } of tasks.values()) {
        done({ rel: task.rel, status: 'failed', code: 'INTERNAL', reason, bytesIn: 0, bytesOut: 0, reportJson: JSON.stringify({ input: task.rel, status: 'failed', code: 'INTERNAL', reason }) });
      }
      tasks.clear();
      if (!this.closing && this.respawns-- > 0) this.spawn();
    };
    worker.on('error', (error) => fail(`the worker thread failed: ${error.name}: ${error.message}`));
    worker.on('exit', (code) => {
      if (!this.closing && this.workers.includes(worker)) fail(`the worker thread exited (${code})`);
    });
    this.workers.push(worker);
    this.inFlight.set(worker, tasks);
    this.unsent.set(worker, []);
  }

  private post(worker: Worker): void {
    const chunk = this.unsent.get(worker);
    if (chunk === undefined || chunk.length === 0) return;
    this.unsent.set(worker, []);
    worker.postMessage({ tasks: chunk });
  }

  run(task: FileTask): Promise<FileResult> {
    if (this.workers.length === 0) {
      const reason = 'no worker thread could be started';
      return Promise.resolve({ rel: task.rel, status: 'failed', code: 'INTERNAL', reason, bytesIn: 0, bytesOut: 0, reportJson: JSON.stringify({ input: task.rel, status: 'failed', code: 'INTERNAL', reason }) });
    }
    let best = this.workers[0] as Worker;
    for (const worker of this.workers) if ((this.inFlight.get(worker)?.size ?? 0) < (this.inFlight.get(best)?.size ?? 0)) best = worker;
    const id = this.nextId++;
    return new Promise((done) => {
      this.inFlight.get(best)?.set(id, { task, done });
      const chunk = this.unsent.get(best);
      chunk?.push({ id, task });
      if ((chunk?.length ?? 0) >= CHUNK) this.post(best);
      else if (!this.flushScheduled) {
        // A partial chunk goes out once the dispatcher yields (end of the walk, or waiting for results).
        this.flushScheduled = true;
        setImmediate(() => {
          this.flushScheduled = false;
          for (const worker of this.workers) this.post(worker);
        });
      }
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}

/**
 * De-identifies a folder into another folder: recursive, any file names, DICOMDIR-aware, resumable (journal), with
 * per-file reports (JSON lines), a summary, and the encrypted re-identification map.
 */
export async function runBatch(options: BatchOptions): Promise<BatchSummary> {
  const started = performance.now();
  const input = resolve(options.input);
  const output = resolve(options.output);
  const reportsDir = resolve(options.reportsDir);
  const inputStat = await stat(input).catch(() => undefined);
  if (inputStat === undefined || !inputStat.isDirectory()) throw new AppError('INVALID_INPUT', [{ path: 'input', issue: 'is not a folder' }]);
  checkBatchFolders({ input, output, reportsDir, ...(options.map === undefined ? {} : { mapPath: options.map.path }) });
  // A wrong passphrase is found before any work, not after the batch (the map of earlier runs must open).
  if (options.map !== undefined) await readReidMap(options.map.path, options.map.sealer);
  for (const [name, folder] of [['output', output], ['reports', reportsDir]] as const) {
    try {
      await mkdir(folder, { recursive: true, mode: 0o700 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const issue = code === 'EEXIST' || code === 'ENOTDIR' ? 'is a file, not a folder' : code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? 'cannot be created here (permission denied or read-only)' : `cannot be created (${code ?? 'error'})`;
      throw new AppError('INVALID_INPUT', [{ path: name, issue }]);
    }
  }
  const lock = new FolderLock(output, 'output');
  let reportsLock: FolderLock | undefined;
  try {
    reportsLock = new FolderLock(reportsDir, 'reports');
    return await runLocked(options, input, output, reportsDir, started);
  } finally {
    reportsLock?.release();
    lock.release();
  }
}

/** What the journal says of a file done in an earlier run. */
interface JournalEntry {
  readonly s: string;
  readonly o?: string;
  readonly n?: number;
  readonly r?: string;
  readonly c?: string;
  readonly m?: string;
}

/** One map entry per patient identity and study (two names under one patient ID are two entries). */
function identityKey(identity: DeidIdentity): string {
  return `${identity.pseudonym}\u0000${identity.newStudyInstanceUID}\u0000${identity.patientId}\u0000${identity.patientName}`;
}

/** In the output folder: the key fingerprint and profile digest that made it (no personal data). */
const ORIGIN_FILE = '.paradim-deid-origin.json';
const LOCK_FILE = '.paradim-deid.lock';
const NEWLINE = Buffer.from('\n');

function writeAll(fd: number, data: Buffer): void {
  let written = 0;
  while (written < data.length) written += writeSync(fd, data, written);
}

/** The JSON in a file, or undefined when the file is missing or damaged (then rewritten by this run). */
function readJsonIfAny(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** Rewrites the reports file (temp, fsync, rename) with only the lines of files the journal has as done. */
function keepReportsOf(path: string, done: ReadonlyMap<string, unknown>): void {
  let input: number;
  try {
    input = openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const temp = `${path}.tmp`;
  const out = openSync(temp, 'w', 0o600);
  // Line by line through a 1 MiB buffer: the file can be larger than any string.
  const seen = new Set<string>();
  const keep = (line: Buffer): void => {
    const key = /^\{"k":"([0-9a-f]+)"/.exec(line.subarray(0, 48).toString('latin1'))?.[1];
    // One line per file: a second line of a file already kept (a crash between report and journal) is dropped.
    if (key === undefined || !done.has(key) || seen.has(key)) return;
    seen.add(key);
    writeAll(out, Buffer.concat([line, NEWLINE]));
  };
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    let carry = Buffer.alloc(0);
    for (;;) {
      const got = readSync(input, chunk, 0, chunk.length, null);
      if (got === 0) break;
      let data = Buffer.concat([carry, chunk.subarray(0, got)]);
      for (let end = data.indexOf(0x0a); end !== -1; end = data.indexOf(0x0a)) {
        keep(data.subarray(0, end));
        data = data.subarray(end + 1);
      }
      carry = Buffer.from(data);
    }
    if (carry.length > 0) keep(carry);
    fsyncSync(out);
  } finally {
    closeSync(out);
    closeSync(input);
  }
  renameSync(temp, path);
}

/** An output of an earlier run is kept only if it is still there, whole (a power cut without flush can empty it). */
function isWhole(output: string, entry: JournalEntry): boolean {
  if (entry.s !== 'deidentified' || entry.o === undefined || entry.n === undefined) return true;
  try {
    return statSync(join(output, entry.o)).size === entry.n;
  } catch {
    return false;
  }
}

async function runLocked(options: BatchOptions, input: string, output: string, reportsDir: string, started: number): Promise<BatchSummary> {
  const profileDigest = digestOf(options.profile, nodeDeidCrypto(options.key));
  // Outputs of one folder come from one key and one profile: the journal's first line says which (the key by a keyed
  // fingerprint that reveals nothing of it).
  const header = { h: 1, profile: profileDigest, key: createHmac('sha256', options.key).update('paradim-deid journal').digest('hex').slice(0, 16) };
  const journalPath = join(reportsDir, 'journal.jsonl');
  const done = new Map<string, JournalEntry>();
  /** The last output the journal has for each input path (to remove it when that input has changed since). */
  const outputsByRel = new Map<string, string>();
  let journalExisted = false;
  let sawHeader = false;
  const mismatch = (): AppError =>
    new AppError('INVALID_INPUT', [
      { path: 'output', issue: `${output} was de-identified with another project key or profile: use the same key and profile, or a new output folder` },
    ]);
  // The output folder itself says which key and profile made it (a keyed fingerprint and a digest: nothing personal),
  // so that a new reports folder cannot hide a mismatch.
  const originPath = join(output, ORIGIN_FILE);
  // An emptied output folder (only this bookkeeping left) starts afresh: the journal and reports of the outputs that
  // were removed are set aside (kept, renamed), and any key or profile may be used.
  const emptied = readdirSync(output).every((entry) => entry === ORIGIN_FILE || entry === LOCK_FILE);
  if (emptied) {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    for (const name of ['journal', 'files']) {
      const path = join(reportsDir, `${name}.jsonl`);
      try {
        renameSync(path, join(reportsDir, `${name}.before-${stamp}.jsonl`));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
  }
  const origin = emptied ? undefined : (readJsonIfAny(originPath) as { profile?: string; key?: string } | undefined);
  if (origin !== undefined && (origin.profile !== header.profile || origin.key !== header.key)) throw mismatch();
  try {
    const journalText = readFileSync(journalPath, 'utf8');
    journalExisted = true;
    for (const line of journalText.split('\n')) {
      if (line.trim() === '') continue;
      try {
        const entry = JSON.parse(line) as { h?: number; profile?: string; key?: string; k?: string } & Partial<JournalEntry>;
        if (entry.h !== undefined) {
          if (entry.profile !== header.profile || entry.key !== header.key) throw mismatch();
          sawHeader = true;
          continue;
        }
        if (typeof entry.k === 'string' && typeof entry.s === 'string' && entry.s !== 'failed') done.set(entry.k, entry as JournalEntry);
        if (entry.s === 'deidentified' && typeof entry.r === 'string' && typeof entry.o === 'string') outputsByRel.set(entry.r, entry.o);
      } catch (error) {
        if (error instanceof AppError) throw error;
        // A torn last line after a crash: that file is simply done again.
      }
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EISDIR' || code === 'EACCES' || code === 'EPERM') throw new AppError('INVALID_INPUT', [{ path: 'reports', issue: `${journalPath} cannot be read as the journal (${code})` }]);
    if (code !== 'ENOENT') throw error;
  }
  // Temp files of a run that stopped (crash, kill) before their group was committed: never outputs.
  removeStrayTemps(output);
  // An output of an earlier run that is no longer whole is done again (its report line goes too).
  for (const [key, entry] of done) if (!isWhole(output, entry)) done.delete(key);
  const journal = new AppendLog(journalPath);
  // The first line, on disk before anything else (a crash in the first second must not leave a journal without it).
  // A journal of an earlier version has none: its entries are trusted as they are.
  if (!sawHeader && done.size === 0) {
    journal.line(header);
    journal.sync();
  }
  if (origin === undefined) await writeFileAtomic(originPath, `${JSON.stringify({ profile: header.profile, key: header.key })}\n`, 0o600);
  const reportsPath = join(reportsDir, 'files.jsonl');
  // One report per input file: lines of files an earlier run did not finish (they are done again) are dropped.
  if (journalExisted) keepReportsOf(reportsPath, done);
  const reports = new AppendLog(reportsPath);

  const durability = options.durability ?? 'group';
  // Worker threads start while the input is counted.
  const pool =
    options.workers > 0
      ? new WorkerPool(options.workerScript ?? '', options.workers, { profile: options.profile, key: options.key, outDir: output, durability })
      : undefined;
  let filesTotal = 0;
  let bytesTotal = 0;
  const skip = [realFolder(output), realFolder(reportsDir)];
  type Listed = WalkEntry & { readonly size: number; readonly mtimeMs: number };
  const described = (entry: WalkEntry): Listed => {
    if (entry.error !== undefined) return { ...entry, size: 0, mtimeMs: 0 };
    try {
      const info = statSync(entry.path);
      return { ...entry, size: info.size, mtimeMs: info.mtimeMs };
    } catch (error) {
      return { ...entry, size: 0, mtimeMs: 0, error: describeReadError(error) };
    }
  };
  let listed: Listed[] | undefined = [];
  try {
    for (const entry of walk(input, skip)) {
      const info = described(entry);
      filesTotal++;
      bytesTotal += info.size;
      // The listing is kept for the second pass unless the batch is huge (memory stays bounded): walked again then.
      if (listed !== undefined && listed.length < LISTING_LIMIT) listed.push(info);
      else listed = undefined;
    }
  } catch (error) {
    await pool?.close();
    journal.close();
    reports.close();
    throw error;
  }

  const counts: Record<FileStatus | 'skipped' | 'resumed', number> = { deidentified: 0, quarantined: 0, dropped: 0, failed: 0, skipped: 0, resumed: 0 };
  const problems: { input: string; status: string; code: string; reason: string }[] = [];
  let problemsOmitted = 0;
  const identities = new Map<string, DeidIdentity>();
  const notes: string[] = [];
  let filesDone = 0;
  let bytesDone = 0;
  let bytesIn = 0;
  let bytesOut = 0;
  let bytesCopiedInKernel = 0;
  let peakRss = process.memoryUsage.rss();
  let lastProgress = 0;
  let lastSync = performance.now();
  const engine = options.workers === 0 ? createDeidEngine(options.profile, options.key) : undefined;
  /** Recomputes identities of files de-identified in an earlier run, for the map (created when first needed). */
  let identityEngine = engine;

  const record = (result: FileResult, key: string): void => {
    filesDone++;
    bytesDone += result.bytesIn;
    bytesIn += result.bytesIn;
    bytesOut += result.bytesOut;
    bytesCopiedInKernel += result.bytesCopiedInKernel ?? 0;
    counts[result.status]++;
    // The journal key first: a resumed batch keeps the reports of the files its journal has.
    reports.text(`{"k":${JSON.stringify(key)},${result.reportJson.slice(1)}`);
    if (result.pendingTemp !== undefined && result.output !== undefined) {
      pending.push({ temp: result.pendingTemp, final: join(output, result.output), key, bytes: result.bytesOut, rel: result.rel });
      unrenamed.add(result.pendingTemp);
      if (pending.length >= 256) commit();
    } else if (result.status === 'deidentified') journal.line({ k: key, s: result.status, o: result.output, n: result.bytesOut, r: result.rel });
    // Quarantined and dropped files are not done again; their reason (no identifying value) is kept for the summary.
    else journal.line({ k: key, s: result.status, r: result.rel, c: result.code, m: result.reason });
    if (result.bug !== undefined) logger.error({ stack: result.bug, file: filesDone }, 'de-identification bug: a file failed with an unexpected error');
    if (result.status !== 'deidentified') {
      if (problems.length < 1000) problems.push({ input: result.rel, status: result.status, code: result.code ?? '', reason: result.reason ?? '' });
      else problemsOmitted++;
    }
    if (result.identity !== undefined) identities.set(identityKey(result.identity), result.identity);
    options.onFile?.(result);
    const now = performance.now();
    if (now - lastSync > 1000) {
      // The reports reach the disk before the journal entries that make their files count as done.
      reports.sync();
      journal.sync();
      lastSync = now;
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
    }
    if (options.onProgress !== undefined && (now - lastProgress > 250 || filesDone === filesTotal)) {
      lastProgress = now;
      options.onProgress({ filesDone, filesTotal, bytesDone, bytesTotal, elapsedMs: now - started });
    }
  };

  // Group commit: flush the output filesystem once for many files, then rename them and journal them. Groups are
  // flushed one after the other in the background; no file gets its final name before its data are on disk.
  const pending: { temp: string; final: string; key: string; bytes: number; rel: string }[] = [];
  /** Temp files written and not renamed yet (removed if the batch stops before their group is committed). */
  const unrenamed = new Set<string>();
  let flushing: Promise<void> = Promise.resolve();
  let syncer: FilesystemSyncer | undefined;
  let groupsInFlight = 0;
  let flushError: unknown;
  const commit = (): void => {
    if (pending.length === 0) return;
    const group = pending.splice(0);
    groupsInFlight++;
    flushing = flushing
      .then(async () => {
        if (flushError !== undefined) return;
        syncer ??= process.platform === 'linux' ? new FilesystemSyncer(output) : undefined;
        await flushFiles(syncer, group.map((entry) => entry.temp));
        const dirs = new Set<string>();
        for (const entry of group) {
          renameSync(entry.temp, entry.final);
          unrenamed.delete(entry.temp);
          dirs.add(dirname(entry.final));
          journal.line({ k: entry.key, s: 'deidentified', o: relative(output, entry.final).split(sep).join('/'), n: entry.bytes, r: entry.rel });
        }
        for (const dir of dirs) fsyncDirectory(dir);
      })
      .catch((error: unknown) => {
        flushError ??= error;
      })
      .finally(() => {
        groupsInFlight--;
      });
  };
  const inFlight = new Set<Promise<void>>();
  // Enough files in flight that each worker always has its next chunk waiting.
  const limit = Math.max(1, options.workers * CHUNK * 3);
  let cancelled = false;
  let dicomdirs = 0;
  let replacedStale = 0;
  try {
    for (const walked of listed ?? walk(input, skip)) {
      const entry = 'size' in walked ? walked : described(walked);
      // The disk is behind: wait for it rather than pile up unflushed files.
      while (groupsInFlight > 2) await flushing;
      if (flushError !== undefined) throw flushError;
      if (options.signal?.aborted === true) {
        cancelled = true;
        break;
      }
      const key = journalKey(entry.rel, entry.size, entry.mtimeMs);
      if (entry.error !== undefined) {
        const reason = entry.error;
        record({ rel: entry.rel, status: 'failed', code: 'DEID_INPUT_UNREADABLE', reason, bytesIn: 0, bytesOut: 0, reportJson: JSON.stringify({ input: entry.rel, status: 'failed', code: 'DEID_INPUT_UNREADABLE', reason }) }, key);
        continue;
      }
      const earlier = done.get(key);
      // The file changed since an earlier run made an output of it: that output is of the old version, and goes.
      const stale = earlier === undefined ? outputsByRel.get(entry.rel) : undefined;
      if (stale !== undefined) {
        rmSync(join(output, stale), { force: true });
        outputsByRel.delete(entry.rel);
        replacedStale++;
      }
      if (earlier !== undefined) {
        filesDone++;
        bytesDone += entry.size;
        if (earlier.s === 'deidentified') {
          counts.resumed++;
          // The map must list the patients of files done before a crash or cancel as well.
          if (options.map !== undefined) {
            identityEngine ??= createDeidEngine(options.profile, options.key);
            const identity = readIdentity(entry.path, identityEngine);
            if (identity !== undefined) identities.set(identityKey(identity), identity);
          }
        } else if (earlier.s === 'skipped') counts.skipped++;
        else {
          counts[earlier.s === 'dropped' ? 'dropped' : 'quarantined']++;
          if (problems.length < 1000) problems.push({ input: earlier.r ?? entry.rel, status: earlier.s, code: earlier.c ?? '', reason: `${earlier.m ?? ''} (earlier run)` });
          else problemsOmitted++;
        }
        continue;
      }
      if (entry.rel.split('/').pop()?.toUpperCase() === 'DICOMDIR') {
        // A media index: it lists patient names and IDs and is not an image; the files it points to are in the walk.
        dicomdirs++;
        counts.skipped++;
        filesDone++;
        journal.line({ k: key, s: 'skipped' });
        continue;
      }
      const task: FileTask = { path: entry.path, rel: entry.rel };
      if (pool === undefined) {
        record(processFile(task, engine as NonNullable<typeof engine>, { outDir: output, durability }), key);
        await new Promise((resolveTick) => setImmediate(resolveTick));
        continue;
      }
      const promise: Promise<void> = pool.run(task).then((result) => {
        record(result, key);
        inFlight.delete(promise);
      });
      inFlight.add(promise);
      // Wait for a whole chunk to come back before dispatching again, so that chunks go out full.
      if (inFlight.size >= limit) while (inFlight.size > limit - CHUNK) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    commit();
    await flushing;
    if (flushError !== undefined) throw flushError;
  } finally {
    await pool?.close();
    await flushing;
    syncer?.close();
    for (const temp of unrenamed) rmSync(temp, { force: true });
    journal.close();
    reports.close();
  }
  if (dicomdirs > 0) notes.push(`${dicomdirs} DICOMDIR index file(s) not copied: they hold identifying values; the output is a plain folder, not a DICOM media set`);
  if (replacedStale > 0) notes.push(`${replacedStale} input file(s) changed since an earlier run: their earlier outputs were removed and made again`);
  notes.push('Per-file reports are JSON lines in files.jsonl (one JSON object per input file).');

  let pseudonymCollisions = 0;
  if (options.map !== undefined && identities.size > 0) {
    const merged = await mergeReidMap(options.map.path, options.map.sealer, identities.values());
    pseudonymCollisions = merged.collisions;
    if (pseudonymCollisions > 0) notes.push(`${pseudonymCollisions} pseudonym collision(s): two patient IDs got one pseudonym; widen the pseudonym format`);
    if (merged.sharedIds > 0) {
      notes.push(`${merged.sharedIds} patient ID(s) carry several names: one pseudonym each (it is keyed by issuer and ID); the map lists every name`);
    }
  }
  peakRss = Math.max(peakRss, process.memoryUsage.rss(), process.resourceUsage().maxRSS * 1024);
  const summary: BatchSummary = {
    engineVersion: appVersion,
    profile: { name: options.profile.name, version: options.profile.version, digest: profileDigest },
    counts,
    filesTotal,
    bytesIn,
    bytesOut,
    bytesCopiedInKernel,
    elapsedMs: Math.round(performance.now() - started),
    peakRssBytes: peakRss,
    cancelled,
    problems,
    problemsOmitted,
    pseudonymCollisions,
    notes,
  };
  await writeFileAtomic(join(reportsDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}

