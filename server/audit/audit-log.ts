import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { AppError } from '../../shared/errors/app-error.js';
import { auditEventSchema, genesisHash, hashAuditRecord, type AuditAction, type AuditEvent, type AuditOutcome, type AuditRecord } from './audit-entry.js';
import { loadOrCreateSigner, writeFileDurably, type AuditSigner } from './audit-signer.js';

export const auditSchemaSql = `
CREATE TABLE IF NOT EXISTS audit_entries (
  seq INTEGER PRIMARY KEY,
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
CREATE TABLE IF NOT EXISTS audit_checkpoints (
  seq INTEGER PRIMARY KEY,
  hash TEXT NOT NULL,
  time TEXT NOT NULL,
  signature TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_entries_no_update BEFORE UPDATE ON audit_entries
  BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_entries_no_delete BEFORE DELETE ON audit_entries
  BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
`;

export interface AuditPaths {
  readonly dbFile: string;
  readonly headFile: string;
  readonly keyFile: string;
}

export function auditPaths(dataDir: string, keyFile?: string): AuditPaths {
  return {
    dbFile: join(dataDir, 'audit', 'audit.sqlite'),
    headFile: join(dataDir, 'audit', 'audit-head.json'),
    keyFile: keyFile ?? join(dataDir, 'keys', 'audit-signing.pem'),
  };
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
  seq: number;
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
    seq: row.seq,
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

/**
 * The append-only, hash-chained audit trail. Appends are grouped into one durable transaction per event-loop turn
 * (group commit), so a request waits for its own entry to be on disk without paying one fsync per entry. The chain
 * head is read inside each write transaction, so several processes sharing the file stay one chain. Signed
 * checkpoints are written every `checkpointEvery` entries or `checkpointMs`, and on close; the newest is mirrored to a
 * head file so that a truncated trail is detected.
 */
export class AuditLog {
  readonly #db: Database.Database;
  readonly #signer: AuditSigner;
  readonly #paths: AuditPaths;
  readonly #checkpointEvery: number;
  readonly #checkpointMs: number;
  #queue: Pending[] = [];
  #flushScheduled = false;
  #lastCheckpointAt = Date.now();
  #closed = false;

  private constructor(db: Database.Database, signer: AuditSigner, paths: AuditPaths, options: { checkpointEvery: number; checkpointMs: number }) {
    this.#db = db;
    this.#signer = signer;
    this.#paths = paths;
    this.#checkpointEvery = options.checkpointEvery;
    this.#checkpointMs = options.checkpointMs;
  }

  static open(paths: AuditPaths, options: { checkpointEvery?: number; checkpointMs?: number } = {}): AuditLog {
    const signer = loadOrCreateSigner(paths.keyFile);
    mkdirSync(dirname(paths.dbFile), { recursive: true, mode: 0o700 });
    const db = new Database(paths.dbFile);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 10000');
    db.exec(auditSchemaSql);
    db.prepare("INSERT OR IGNORE INTO audit_meta (key, value) VALUES ('public_key', ?)").run(signer.publicKeyPem);
    return new AuditLog(db, signer, paths, { checkpointEvery: options.checkpointEvery ?? 256, checkpointMs: options.checkpointMs ?? 5000 });
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
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#flushScheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    let records: AuditRecord[];
    let checkpoint: { seq: number; hash: string; time: string; signature: string } | null = null;
    try {
      const insert = this.#db.prepare(
        `INSERT INTO audit_entries (seq, time, action, outcome, actor_id, token_id, album_id, study_uid, series_uid, instance_uid,
           http_status, client_address, request_id, detail, prev_hash, hash)
         VALUES (@seq, @time, @action, @outcome, @actorId, @tokenId, @albumId, @studyInstanceUID, @seriesInstanceUID, @sopInstanceUID,
           @httpStatus, @clientAddress, @requestId, @detail, @prevHash, @hash)`,
      );
      const write = this.#db.transaction(() => {
        const head = this.#db.prepare('SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
        let seq = head?.seq ?? 0;
        let prevHash = head?.hash ?? genesisHash;
        const written: AuditRecord[] = [];
        for (const pending of batch) {
          seq += 1;
          const base = { ...pending.event, seq, time: pending.time, prevHash };
          const record: AuditRecord = { ...base, hash: hashAuditRecord(base) };
          insert.run({ ...record, detail: record.detail === null ? null : JSON.stringify(record.detail) });
          written.push(record);
          prevHash = record.hash;
        }
        const last = this.#db.prepare('SELECT seq FROM audit_checkpoints ORDER BY seq DESC LIMIT 1').get() as { seq: number } | undefined;
        if (seq - (last?.seq ?? 0) >= this.#checkpointEvery || Date.now() - this.#lastCheckpointAt >= this.#checkpointMs) {
          checkpoint = this.#signCheckpoint(seq, prevHash);
        }
        return written;
      });
      records = write.immediate();
    } catch (error) {
      const failure = new AppError('AUDIT_WRITE_FAILED', [{ path: 'audit', issue: 'the audit database refused the write' }], { cause: error });
      for (const pending of batch) pending.reject(failure);
      return;
    }
    if (checkpoint !== null) this.#publishHead(checkpoint);
    batch.forEach((pending, index) => pending.resolve(records[index] as AuditRecord));
  }

  #signCheckpoint(seq: number, hash: string): { seq: number; hash: string; time: string; signature: string } {
    const time = new Date().toISOString();
    const signature = this.#signer.sign(checkpointMessage(seq, hash, time));
    this.#db.prepare('INSERT OR REPLACE INTO audit_checkpoints (seq, hash, time, signature) VALUES (?, ?, ?, ?)').run(seq, hash, time, signature);
    this.#lastCheckpointAt = Date.now();
    return { seq, hash, time, signature };
  }

  #publishHead(checkpoint: { seq: number; hash: string; time: string; signature: string }): void {
    writeFileDurably(this.#paths.headFile, `${JSON.stringify(checkpoint)}\n`);
  }

  /** Waits for queued entries, then writes a checkpoint of the current head. */
  async checkpointNow(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.#flush();
    const head = this.#db.prepare('SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
    if (head === undefined) return;
    const last = this.#db.prepare('SELECT seq FROM audit_checkpoints ORDER BY seq DESC LIMIT 1').get() as { seq: number } | undefined;
    if (last?.seq === head.seq) return;
    const checkpoint = this.#db.transaction(() => this.#signCheckpoint(head.seq, head.hash)).immediate();
    this.#publishHead(checkpoint);
  }

  query(filter: AuditQuery): AuditRecord[] {
    const clauses: string[] = [];
    const params: Record<string, string | number> = {};
    const add = (sql: string, key: string, value: string | number | undefined): void => {
      if (value === undefined) return;
      clauses.push(sql);
      params[key] = value;
    };
    add('actor_id = @actorId', 'actorId', filter.actorId);
    add('action = @action', 'action', filter.action);
    add('outcome = @outcome', 'outcome', filter.outcome);
    add('album_id = @albumId', 'albumId', filter.albumId);
    add('study_uid = @studyInstanceUID', 'studyInstanceUID', filter.studyInstanceUID);
    add('time >= @from', 'from', filter.from);
    add('time <= @to', 'to', filter.to);
    add('seq > @afterSeq', 'afterSeq', filter.afterSeq);
    params.limit = Math.min(Math.max(filter.limit ?? 100, 1), 1000);
    const where = clauses.length === 0 ? '' : `WHERE ${clauses.join(' AND ')}`;
    const rows = this.#db.prepare(`SELECT * FROM audit_entries ${where} ORDER BY seq LIMIT @limit`).all(params) as Row[];
    return rows.map(recordFromRow);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.checkpointNow();
    this.#closed = true;
    this.#db.close();
  }
}
