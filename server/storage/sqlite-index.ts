import Database from 'better-sqlite3';
import { PreparedStatements } from '../db/sql-db.js';
import { SqliteWriter } from './sqlite-writer.js';
import type { DicomIndex, InstanceRecord, InstanceRow, QidoQuery, QidoRow, Scope, StoreOutcome } from './dicom-index.js';
import {
  deleteSelectSql,
  instanceParams,
  instancesSql,
  metadataSql,
  qidoSql,
  schemaStatements,
  seriesParams,
  sqliteDialect,
  studyParams,
  toInstanceRow,
  toQidoRow,
  type InstanceDbRow,
  type QidoDbRow,
} from './sql-index-common.js';

/**
 * The embedded index: one SQLite file in WAL mode with `synchronous=FULL`, so a committed transaction is on disk
 * before the STOW response is sent. Reads run on this thread (better-sqlite3 is synchronous and fast for them);
 * writes go to a worker thread that group-commits (see sqlite-writer.ts), so an fsync never blocks the event loop.
 */
export class SqliteIndex implements DicomIndex {
  readonly kind = 'sqlite';
  private db: Database.Database | undefined;
  private statements: PreparedStatements | undefined;
  private writer: SqliteWriter | undefined;

  constructor(private readonly file: string) {}

  private get handle(): Database.Database {
    if (this.db === undefined) throw new Error('the index is not open');
    return this.db;
  }

  async init(): Promise<void> {
    const db = new Database(this.file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.pragma('cache_size = -65536');
    for (const statement of schemaStatements) db.exec(statement);
    this.db = db;
    this.statements = new PreparedStatements(db);
    this.writer = new SqliteWriter(this.file);
  }

  /** Queries are built per request, but their texts repeat: prepared once each. */
  private get prepared(): PreparedStatements {
    if (this.statements === undefined) throw new Error('the index is not open');
    return this.statements;
  }

  private get write(): SqliteWriter {
    if (this.writer === undefined) throw new Error('the index is not open');
    return this.writer;
  }

  async store(records: readonly InstanceRecord[]): Promise<StoreOutcome[]> {
    const now = Date.now();
    return this.write.store(
      records.map((record) => ({
        sop: record.sopInstanceUID,
        study: record.studyUID,
        series: record.seriesUID,
        studyParams: studyParams(record, now),
        seriesParams: seriesParams(record, now),
        instanceParams: instanceParams(record, now),
      })),
    );
  }

  async instances(scope: Scope): Promise<InstanceRow[]> {
    const query = instancesSql(scope);
    return this.prepared
      .get<unknown[], InstanceDbRow>(query.sql)
      .all(...query.params)
      .map(toInstanceRow);
  }

  async metadata(scope: Scope): Promise<{ blobKey: string; json: string }[]> {
    const query = metadataSql(scope);
    return this.prepared
      .get<unknown[], { blob_key: string; metadata: string }>(query.sql)
      .all(...query.params)
      .map((row) => ({ blobKey: row.blob_key, json: row.metadata }));
  }

  async query(query: QidoQuery): Promise<{ rows: QidoRow[]; more: boolean }> {
    const built = qidoSql(query, sqliteDialect);
    const rows = this.prepared.get<unknown[], QidoDbRow>(built.sql).all(...built.params);
    const more = rows.length > query.limit;
    return { rows: rows.slice(0, query.limit).map(toQidoRow), more };
  }

  async delete(scope: Scope): Promise<string[]> {
    const select = deleteSelectSql(scope);
    return this.write.delete(select.sql, select.params, scope.study, scope.series === undefined && scope.instance === undefined);
  }

  async unreferenced(keys: readonly string[]): Promise<string[]> {
    const statement = this.handle.prepare<[string], { one: number }>('SELECT 1 AS one FROM instances WHERE blob_key = ?');
    return keys.filter((key) => statement.get(key) === undefined);
  }

  async ready(): Promise<boolean> {
    try {
      this.handle.prepare('SELECT 1').get();
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.writer?.close();
    this.writer = undefined;
    this.db?.close();
    this.db = undefined;
    this.statements = undefined;
  }
}
