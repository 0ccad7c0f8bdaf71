import Database from 'better-sqlite3';
import type { DicomIndex, InstanceRecord, InstanceRow, QidoQuery, QidoRow, Scope, StoreOutcome } from './dicom-index.js';
import {
  deleteSelectSql,
  instanceParams,
  instancesSql,
  metadataSql,
  qidoSql,
  schemaStatements,
  seriesParams,
  sql,
  sqliteDialect,
  studyParams,
  toInstanceRow,
  toQidoRow,
  type InstanceDbRow,
  type QidoDbRow,
} from './sql-index-common.js';

/**
 * The embedded index: one SQLite file in WAL mode with `synchronous=FULL`, so a committed transaction is on disk
 * before the STOW response is sent. better-sqlite3 is synchronous; each batch is one transaction.
 */
export class SqliteIndex implements DicomIndex {
  readonly kind = 'sqlite';
  private db: Database.Database | undefined;

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
  }

  async store(records: readonly InstanceRecord[]): Promise<StoreOutcome[]> {
    const db = this.handle;
    const byUid = db.prepare<[string], { study_uid: string; series_uid: string }>(sql.instanceByUid);
    const seriesStudy = db.prepare<[string], { study_uid: string }>(sql.seriesStudy);
    const insertStudy = db.prepare(sql.insertStudy);
    const insertSeries = db.prepare(sql.insertSeries);
    const insertInstance = db.prepare(sql.insertInstance);
    const now = Date.now();
    const run = db.transaction((batch: readonly InstanceRecord[]): StoreOutcome[] =>
      batch.map((record) => {
        const existing = byUid.get(record.sopInstanceUID);
        if (existing !== undefined) {
          return existing.study_uid === record.studyUID && existing.series_uid === record.seriesUID ? 'exists' : 'conflict';
        }
        const series = seriesStudy.get(record.seriesUID);
        if (series !== undefined && series.study_uid !== record.studyUID) return 'conflict';
        insertStudy.run(...studyParams(record, now));
        insertSeries.run(...seriesParams(record, now));
        return insertInstance.run(...instanceParams(record, now)).changes === 1 ? 'stored' : 'exists';
      }),
    );
    return run.immediate(records);
  }

  async instances(scope: Scope): Promise<InstanceRow[]> {
    const query = instancesSql(scope);
    return this.handle
      .prepare<unknown[], InstanceDbRow>(query.sql)
      .all(...query.params)
      .map(toInstanceRow);
  }

  async metadata(scope: Scope): Promise<{ blobKey: string; json: string }[]> {
    const query = metadataSql(scope);
    return this.handle
      .prepare<unknown[], { blob_key: string; metadata: string }>(query.sql)
      .all(...query.params)
      .map((row) => ({ blobKey: row.blob_key, json: row.metadata }));
  }

  async query(query: QidoQuery): Promise<{ rows: QidoRow[]; more: boolean }> {
    const built = qidoSql(query, sqliteDialect);
    const rows = this.handle.prepare<unknown[], QidoDbRow>(built.sql).all(...built.params);
    const more = rows.length > query.limit;
    return { rows: rows.slice(0, query.limit).map(toQidoRow), more };
  }

  async delete(scope: Scope): Promise<string[]> {
    const db = this.handle;
    const select = deleteSelectSql(scope);
    const run = db.transaction((): string[] => {
      const rows = db.prepare<unknown[], { sop_uid: string; series_uid: string; blob_key: string }>(select.sql).all(...select.params);
      const deleteInstance = db.prepare('DELETE FROM instances WHERE sop_uid = ?');
      const deleteSeries = db.prepare(sql.deleteEmptySeries);
      const deleteStudy = db.prepare(sql.deleteEmptyStudy);
      for (const row of rows) deleteInstance.run(row.sop_uid);
      for (const series of new Set(rows.map((row) => row.series_uid))) deleteSeries.run(series);
      if (scope.series === undefined && scope.instance === undefined) db.prepare('DELETE FROM series WHERE study_uid = ?').run(scope.study);
      deleteStudy.run(scope.study);
      return rows.map((row) => row.blob_key);
    });
    return run.immediate();
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
    this.db?.close();
    this.db = undefined;
  }
}
