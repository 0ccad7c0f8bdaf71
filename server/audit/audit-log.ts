import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AppError } from '../../shared/errors/app-error.js';
import { auditEventSchema, auditFields, genesisHash, hashAuditRecord, type AuditAction, type AuditEvent, type AuditOutcome, type AuditRecord } from './audit-entry.js';
import { loadOrCreateSigner, writeFileDurably, type AuditSigner } from './audit-signer.js';
import { PostgresDb, SqliteDb, type SqlDb } from '../db/sql-db.js';

/** The audit tables; UPDATE and DELETE are refused by triggers (an attacker with file access can drop them: verify). */
export function auditSchemaSql(dialect: SqlDb['dialect']): string {
  const tables = `
CREATE TABLE IF NOT EXISTS audit_entries (
  seq BIGINT PRIMARY KEY,
  time TEXT NOT NULL,
  action TEXT NOT NULL,
  outcome TEXT NOT NULL,
  actor_id TEXT,
  token_id TEXT,
  album_id TEXT,
  study_uid TEXT,
  series_uid TEXT,
  instance_uid TEXT,
  http_status INTEGER,
  client_address TEXT,
  request_id TEXT,
  detail TEXT,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit_entries (time);
CREATE INDEX IF NOT EXISTS audit_by_actor ON audit_entries (actor_id, seq);
CREATE INDEX IF NOT EXISTS audit_by_album ON audit_entries (album_id, seq);
CREATE INDEX IF NOT EXISTS audit_by_study ON audit_entries (study_uid, seq);
CREATE TABLE IF NOT EXISTS audit_checkpoints (seq BIGINT PRIMARY KEY, hash TEXT NOT NULL, time TEXT NOT NULL, signature TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;
  if (dialect === 'postgres') {
    return `${tables}
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger AS $$
  BEGIN RAISE EXCEPTION 'audit entries are append-only'; END $$ LANGUAGE plpgsql;
CREATE OR REPLACE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries FOR EACH ROW EXECUTE FUNCTION audit_append_only();
`;
  }
  return `${tables}
CREATE TRIGGER IF NOT EXISTS audit_entries_no_update BEFORE UPDATE ON audit_entries
  BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_entries_no_delete BEFORE DELETE ON audit_entries
  BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
`;
}

/** Advisory lock that makes replicas append one after the other (PostgreSQL). */
export const auditLock = 4242102;

export interface AuditPaths {
  readonly dbFile: string;
  /** PostgreSQL holds the trail instead of `dbFile` when set (several replicas). */
  readonly databaseUrl?: string | undefined;
  readonly headFile: string;
  readonly keyFile: string;
}

export function auditPaths(dataDir: string, keyFile?: string, databaseUrl?: string): AuditPaths {
  return {
    dbFile: join(dataDir, 'audit', 'audit.sqlite'),
    ...(databaseUrl === undefined ? {} : { databaseUrl }),
    headFile: join(dataDir, 'audit', 'audit-head.json'),
    keyFile: keyFile ?? join(dataDir, 'keys', 'audit-signing.pem'),
  };
}

/** Opens the trail's database (read-only for verification and export of the embedded SQLite file). */
export function openAuditDb(paths: AuditPaths, options: { readonly?: boolean } = {}): SqlDb {
  if (paths.databaseUrl !== undefined) return new PostgresDb(paths.databaseUrl, { max: 4 });
  if (options.readonly === true) return new SqliteDb(paths.dbFile, options);
  mkdirSync(dirname(paths.dbFile), { recursive: true, mode: 0o700 });
  // Appends are durable before they resolve; the WAL is synced after each commit, on the event loop or the thread pool
  // (AuditLog.open, syncInline).
  return new SqliteDb(paths.dbFile, { syncOffThread: true });
}

export function checkpointMessage(seq: number, hash: string, time: string): string {
  return `paradim-audit-checkpoint:v1:${seq}:${hash}:${time}`;
}

export interface AuditQuery {
  readonly actorId?: string | undefined;
  readonly action?: AuditAction | undefined;
  readonly outcome?: AuditOutcome | undefined;
  readonly albumId?: string | undefined;
  readonly studyInstanceUID?: string | undefined;
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  readonly afterSeq?: number | undefined;
  readonly limit?: number | undefined;
}

interface Row {
  [column: string]: unknown;
  seq: number | string;
  time: string;
  action: string;
  outcome: string;
  actor_id: string | null;
  token_id: string | null;
  album_id: string | null;
  study_uid: string | null;
  series_uid: string | null;
  instance_uid: string | null;
  http_status: number | null;
  client_address: string | null;
  request_id: string | null;
  detail: string | null;
  prev_hash: string;
  hash: string;
}

export function recordFromRow(row: Row): AuditRecord {
  return {
    seq: Number(row.seq),
    time: row.time,
    action: row.action as AuditAction,
    outcome: row.outcome as AuditOutcome,
    actorId: row.actor_id,
    tokenId: row.token_id,
    albumId: row.album_id,
    studyInstanceUID: row.study_uid,
    seriesInstanceUID: row.series_uid,
    sopInstanceUID: row.instance_uid,
    httpStatus: row.http_status,
    clientAddress: row.client_address,
    requestId: row.request_id,
    detail: row.detail === null ? null : (JSON.parse(row.detail) as AuditRecord['detail']),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

interface Pending {
  readonly event: ReturnType<typeof auditEventSchema.parse>;
  readonly time: string;
  resolve(record: AuditRecord): void;
  reject(error: unknown): void;
}

interface Checkpoint {
  readonly seq: number;
  readonly hash: string;
  readonly time: string;
  readonly signature: string;
}

const insertSql = `INSERT INTO audit_entries (${[...auditFields.map(([, column]) => column), 'hash'].join(', ')})
  VALUES (${[...auditFields, 'hash'].map(() => '?').join(', ')})`;

function insertParams(record: AuditRecord): unknown[] {
  const values = auditFields.map(([field]) => (field === 'detail' ? (record.detail === null ? null : JSON.stringify(record.detail)) : record[field]));
  return [...values, record.hash];
}

/**
 * The append-only, hash-chained audit trail. Appends are grouped into one durable transaction (group commit), so a
 * request waits for its own entry to be on disk without paying one fsync per entry. The chain head is read inside
 * each write transaction under a writer lock, so several processes or replicas sharing the database stay one chain.
 * Signed checkpoints are written every `checkpointEvery` entries or `checkpointMs`, and on close; with the embedded
 * SQLite file the newest is mirrored to a head file, so that a truncated trail is detected.
 */
export class AuditLog {
  readonly #db: SqlDb;
  readonly #signer: AuditSigner;
  readonly #paths: AuditPaths;
  readonly #checkpointEvery: number;
  readonly #checkpointMs: number;
  readonly #syncInline: () => boolean;
  #queue: Pending[] = [];
  /** The flush that has not committed yet; the next one starts once it has (while its sync may still run). */
  #committing: Promise<void> | null = null;
  /** Flushes whose entries are not resolved yet (not yet durable). */
  readonly #inFlight = new Set<Promise<void>>();
  #publishedSeq = -1;
  #lastCheckpointAt = Date.now();
  #closed = false;

  private constructor(
    db: SqlDb,
    signer: AuditSigner,
    paths: AuditPaths,
    options: { checkpointEvery: number; checkpointMs: number; syncInline: () => boolean },
  ) {
    this.#db = db;
    this.#syncInline = options.syncInline;
    this.#signer = signer;
    this.#paths = paths;
    this.#checkpointEvery = options.checkpointEvery;
    this.#checkpointMs = options.checkpointMs;
  }

  /**
   * `syncInline` is asked before each commit of the embedded trail: true syncs it on the event loop (nothing else needs
   * the loop, and the wake-up after a thread-pool sync costs more than the sync), false on the thread pool.
   */
  static async open(paths: AuditPaths, options: { checkpointEvery?: number; checkpointMs?: number; syncInline?: () => boolean } = {}): Promise<AuditLog> {
    const signer = loadOrCreateSigner(paths.keyFile);
    const db = openAuditDb(paths);
    await db.transaction(
      async (tx) => {
        await tx.exec(auditSchemaSql(db.dialect));
        await tx.run("INSERT INTO audit_meta (key, value) VALUES ('public_key', ?) ON CONFLICT DO NOTHING", [signer.publicKeyPem]);
      },
      { lock: auditLock },
    );
    return new AuditLog(db, signer, paths, {
      checkpointEvery: options.checkpointEvery ?? 256,
      checkpointMs: options.checkpointMs ?? 5000,
      syncInline: options.syncInline ?? (() => false),
    });
  }

  get publicKeyPem(): string {
    return this.#signer.publicKeyPem;
  }

  /** Resolves once the entry is durably stored; rejects with AUDIT_WRITE_FAILED otherwise (fail the request then). */
  append(event: AuditEvent): Promise<AuditRecord> {
    if (this.#closed) return Promise.reject(new AppError('AUDIT_WRITE_FAILED', [{ path: 'audit', issue: 'the audit trail is closed' }]));
    const parsed = auditEventSchema.safeParse(event);
    if (!parsed.success) {
      return Promise.reject(new AppError('AUDIT_WRITE_FAILED', [{ path: 'audit', issue: 'the event does not fit the audit schema' }]));
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ event: parsed.data, time: new Date().toISOString(), resolve, reject });
      this.#kick();
    });
  }

  /**
   * One flush commits at a time; entries that arrive meanwhile go together in the next one, which starts as soon as
   * the previous one committed, so its sync overlaps the previous one's (each batch resolves after its own sync).
   */
  #kick(): void {
    if (this.#committing !== null) return;
    let committed: () => void = () => undefined;
    const committing = new Promise<void>((resolve) => {
      committed = resolve;
    });
    this.#committing = committing;
    const flush = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#flush(committed));
    this.#inFlight.add(flush);
    flush
      .finally(() => {
        committed();
        this.#inFlight.delete(flush);
      })
      .catch(() => undefined); // #flush settles its entries itself; close() sees a failure through #inFlight.
    void committing.then(() => {
      this.#committing = null;
      if (this.#queue.length > 0) this.#kick();
    });
  }

  async #flush(committed: () => void): Promise<void> {
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    let records: AuditRecord[];
    let checkpoint: Checkpoint | null = null;
    try {
      records = await this.#db.transaction(
        async (tx) => {
          const head = await tx.get<Row>('SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1');
          let seq = head === undefined ? 0 : Number(head.seq);
          let prevHash = head?.hash ?? genesisHash;
          const written: AuditRecord[] = [];
          for (const pending of batch) {
            seq += 1;
            const base = { ...pending.event, seq, time: pending.time, prevHash };
            const record: AuditRecord = { ...base, hash: hashAuditRecord(base) };
            await tx.run(insertSql, insertParams(record));
            written.push(record);
            prevHash = record.hash;
          }
          const last = await tx.get<{ seq: number | string }>('SELECT seq FROM audit_checkpoints ORDER BY seq DESC LIMIT 1');
          if (seq - Number(last?.seq ?? 0) >= this.#checkpointEvery || Date.now() - this.#lastCheckpointAt >= this.#checkpointMs) {
            checkpoint = await this.#signCheckpoint(tx, seq, prevHash);
          }
          return written;
        },
        { lock: auditLock, onCommitted: committed, syncInline: this.#syncInline() },
      );
    } catch (error) {
      const failure = new AppError('AUDIT_WRITE_FAILED', [{ path: 'audit', issue: 'the audit database refused the write' }], { cause: error });
      for (const pending of batch) pending.reject(failure);
      return;
    }
    if (checkpoint !== null) this.#publishHead(checkpoint);
    batch.forEach((pending, index) => pending.resolve(records[index] as AuditRecord));
  }

  async #signCheckpoint(tx: SqlDb, seq: number, hash: string): Promise<Checkpoint> {
    const time = new Date().toISOString();
    const signature = this.#signer.sign(checkpointMessage(seq, hash, time));
    await tx.run('INSERT INTO audit_checkpoints (seq, hash, time, signature) VALUES (?, ?, ?, ?) ON CONFLICT (seq) DO UPDATE SET hash = excluded.hash, time = excluded.time, signature = excluded.signature', [seq, hash, time, signature]);
    this.#lastCheckpointAt = Date.now();
    return { seq, hash, time, signature };
  }

  #publishHead(checkpoint: Checkpoint): void {
    // Flushes overlap: a newer checkpoint may be published first; never replace it with an older one.
    if (checkpoint.seq <= this.#publishedSeq) return;
    this.#publishedSeq = checkpoint.seq;
    // The head file anchors the embedded trail; replicas on PostgreSQL rely on the signed checkpoints in the database.
    if (this.#paths.databaseUrl === undefined) writeFileDurably(this.#paths.headFile, `${JSON.stringify(checkpoint)}\n`);
  }

  /** Waits for queued entries, then writes a checkpoint of the current head. */
  async checkpointNow(): Promise<void> {
    while (this.#committing !== null || this.#inFlight.size > 0 || this.#queue.length > 0) {
      if (this.#queue.length > 0) this.#kick();
      await Promise.all([this.#committing, ...this.#inFlight]);
    }
    const checkpoint = await this.#db.transaction(
      async (tx) => {
        const head = await tx.get<Row>('SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1');
        if (head === undefined) return null;
        const last = await tx.get<{ seq: number | string }>('SELECT seq FROM audit_checkpoints ORDER BY seq DESC LIMIT 1');
        if (Number(last?.seq ?? -1) === Number(head.seq)) return null;
        return this.#signCheckpoint(tx, Number(head.seq), String(head.hash));
      },
      { lock: auditLock },
    );
    if (checkpoint !== null) this.#publishHead(checkpoint);
  }

  async query(filter: AuditQuery): Promise<AuditRecord[]> {
    const clauses: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: string | number | undefined): void => {
      if (value === undefined) return;
      clauses.push(sql);
      params.push(value);
    };
    add('actor_id = ?', filter.actorId);
    add('action = ?', filter.action);
    add('outcome = ?', filter.outcome);
    add('album_id = ?', filter.albumId);
    add('study_uid = ?', filter.studyInstanceUID);
    add('time >= ?', filter.from);
    add('time <= ?', filter.to);
    add('seq > ?', filter.afterSeq);
    params.push(Math.min(Math.max(filter.limit ?? 100, 1), 1000));
    const where = clauses.length === 0 ? '' : `WHERE ${clauses.join(' AND ')}`;
    const rows = await this.#db.all<Row>(`SELECT * FROM audit_entries ${where} ORDER BY seq LIMIT ?`, params);
    return rows.map(recordFromRow);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.checkpointNow();
    this.#closed = true;
    await this.#db.close();
  }
}
