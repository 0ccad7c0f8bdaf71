import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { StoreOutcome } from './dicom-index.js';
import { sql } from './sql-index-common.js';

/**
 * The SQLite writer runs in a worker thread with its own connection: a commit with `synchronous=FULL` waits for an
 * fsync, which must not stall the event loop. Writes queued while a commit runs are committed together in the next
 * transaction (group commit), each request's batch inside its own savepoint so one failing batch does not affect others.
 * Plain JavaScript so it runs the same from the bundle and from the TypeScript sources under test.
 */
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 10000');
const S = workerData.sql;
const byUid = db.prepare(S.instanceByUid);
const seriesStudy = db.prepare(S.seriesStudy);
const insertStudy = db.prepare(S.insertStudy);
const insertSeries = db.prepare(S.insertSeries);
const insertInstance = db.prepare(S.insertInstance);
const deleteInstance = db.prepare('DELETE FROM instances WHERE sop_uid = ?');
const deleteSeriesOfStudy = db.prepare('DELETE FROM series WHERE study_uid = ?');
const deleteEmptySeries = db.prepare(S.deleteEmptySeries);
const deleteEmptyStudy = db.prepare(S.deleteEmptyStudy);
const store = db.transaction((records) => records.map((r) => {
  const existing = byUid.get(r.sop);
  if (existing !== undefined) return existing.study_uid === r.study && existing.series_uid === r.series ? 'exists' : 'conflict';
  const series = seriesStudy.get(r.series);
  if (series !== undefined && series.study_uid !== r.study) return 'conflict';
  insertStudy.run(...r.studyParams);
  insertSeries.run(...r.seriesParams);
  return insertInstance.run(...r.instanceParams).changes === 1 ? 'stored' : 'exists';
}));
const remove = db.transaction((job) => {
  const rows = db.prepare(job.select).all(...job.params);
  for (const row of rows) deleteInstance.run(row.sop_uid);
  for (const series of new Set(rows.map((row) => row.series_uid))) deleteEmptySeries.run(series);
  if (job.wholeStudy) deleteSeriesOfStudy.run(job.study);
  deleteEmptyStudy.run(job.study);
  return rows.map((row) => row.blob_key);
});
let queue = [];
let scheduled = false;
function flush() {
  scheduled = false;
  const jobs = queue;
  queue = [];
  const results = [];
  try {
    db.transaction(() => {
      for (const job of jobs) {
        try {
          results.push({ id: job.id, ok: true, value: job.kind === 'store' ? store(job.records) : remove(job) });
        } catch (error) {
          results.push({ id: job.id, ok: false, error: String((error && error.message) || error) });
        }
      }
    }).immediate();
  } catch (error) {
    results.length = 0;
    for (const job of jobs) results.push({ id: job.id, ok: false, error: String((error && error.message) || error) });
  }
  for (const result of results) parentPort.postMessage(result);
}
parentPort.on('message', (job) => {
  queue.push(job);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
});
`;

export interface WriterRecord {
  sop: string;
  study: string;
  series: string;
  studyParams: unknown[];
  seriesParams: unknown[];
  instanceParams: unknown[];
}

type Job = { kind: 'store'; records: WriterRecord[] } | { kind: 'delete'; select: string; params: unknown[]; study: string; wholeStudy: boolean };

function driverPath(): string {
  // The bundle is CommonJS (`__filename`); under test, vite-node provides `__filename` too.
  const base = typeof __filename === 'string' ? __filename : `${process.cwd()}/package.json`;
  return createRequire(base).resolve('better-sqlite3');
}

export class SqliteWriter {
  private worker: Worker;
  private next = 1;
  private closing = false;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();

  constructor(private readonly file: string) {
    this.worker = this.start();
  }

  /** Starts the writer thread; if it ever dies, its pending writes fail (nothing was acknowledged) and a new one starts. */
  private start(): Worker {
    const worker = new Worker(workerSource, { eval: true, workerData: { file: this.file, driver: driverPath(), sql } });
    worker.unref();
    worker.on('message', (message: { id: number; ok: boolean; value?: unknown; error?: string }) => {
      const waiting = this.pending.get(message.id);
      if (waiting === undefined) return;
      this.pending.delete(message.id);
      if (message.ok) waiting.resolve(message.value);
      else waiting.reject(new Error(`index write failed: ${message.error ?? 'unknown error'}`));
    });
    worker.on('error', (error) => this.failAll(error));
    worker.on('exit', () => {
      this.failAll(new Error('the index writer stopped'));
      if (!this.closing) this.worker = this.start();
    });
    return worker;
  }

  private failAll(error: Error): void {
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }

  private run<T>(job: Job): Promise<T> {
    const id = this.next;
    this.next += 1;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.ref();
      this.worker.postMessage({ ...job, id });
    }).finally(() => {
      if (this.pending.size === 0) this.worker.unref();
    });
  }

  store(records: WriterRecord[]): Promise<StoreOutcome[]> {
    return this.run<StoreOutcome[]>({ kind: 'store', records });
  }

  delete(select: string, params: unknown[], study: string, wholeStudy: boolean): Promise<string[]> {
    return this.run<string[]>({ kind: 'delete', select, params, study, wholeStudy });
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
  }

  /** For tests: stops the writer thread as a crash would. */
  async crashForTest(): Promise<void> {
    await this.worker.terminate();
  }
}
