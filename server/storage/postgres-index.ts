import pg from 'pg';
import type { DicomIndex, InstanceRecord, InstanceRow, QidoQuery, QidoRow, Scope, StoreOutcome } from './dicom-index.js';
import {
  deleteSelectSql,
  instanceParams,
  instancesSql,
  metadataSql,
  postgresDialect,
  qidoSql,
  schemaStatements,
  seriesParams,
  sql,
  studyParams,
  toInstanceRow,
  toQidoRow,
  type InstanceDbRow,
  type QidoDbRow,
} from './sql-index-common.js';

/** `?` placeholders → `$1, $2…` (the shared SQL never has `?` inside literals). */
function numbered(text: string): string {
  let n = 0;
  return text.replace(/\?/g, () => `$${(n += 1)}`);
}

// BIGINT columns come back as numbers (sizes and counts stay far below 2^53).
pg.types.setTypeParser(20, (value) => Number(value));

/**
 * The index on PostgreSQL, for several server replicas sharing one database: every write is one transaction, new
 * rows use `ON CONFLICT DO NOTHING` so two replicas storing the same instance at once both answer correctly (one
 * stores it, the other finds it), and no state lives in process memory.
 */
export class PostgresIndex implements DicomIndex {
  readonly kind = 'postgres';
  private readonly pool: pg.Pool;

  constructor(connectionString: string, poolSize = 10) {
    this.pool = new pg.Pool({ connectionString, max: poolSize });
    // An idle client that loses its connection must not crash the server.
    this.pool.on('error', () => undefined);
  }

  async init(): Promise<void> {
    const client = await this.pool.connect();
    try {
      // Replicas may start together: serialise schema creation.
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(4242001)');
      for (const statement of schemaStatements) await client.query(statement);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** One transaction; retried when PostgreSQL aborts it for a deadlock or a concurrent unique insert by another replica. */
  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.transactionOnce(work);
      } catch (error) {
        const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
        if (attempt >= 5 || !['40P01', '40001', '23505'].includes(code)) throw error;
      }
    }
  }

  private async transactionOnce<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async store(records: readonly InstanceRecord[]): Promise<StoreOutcome[]> {
    const now = Date.now();
    return this.transaction(async (client) => {
      const outcomes: StoreOutcome[] = [];
      for (const record of records) {
        const existing = await client.query<{ study_uid: string; series_uid: string }>(numbered(sql.instanceByUid), [record.sopInstanceUID]);
        const found = existing.rows[0];
        if (found !== undefined) {
          outcomes.push(found.study_uid === record.studyUID && found.series_uid === record.seriesUID ? 'exists' : 'conflict');
          continue;
        }
        const series = (await client.query<{ study_uid: string }>(numbered(sql.seriesStudy), [record.seriesUID])).rows[0];
        if (series !== undefined && series.study_uid !== record.studyUID) {
          outcomes.push('conflict');
          continue;
        }
        await client.query(numbered(sql.insertStudy), studyParams(record, now));
        await client.query(numbered(sql.insertSeries), seriesParams(record, now));
        const inserted = await client.query(numbered(sql.insertInstance), instanceParams(record, now));
        outcomes.push(inserted.rowCount === 1 ? 'stored' : 'exists');
      }
      return outcomes;
    });
  }

  async instances(scope: Scope): Promise<InstanceRow[]> {
    const query = instancesSql(scope);
    return (await this.pool.query<InstanceDbRow>(numbered(query.sql), query.params)).rows.map(toInstanceRow);
  }

  async metadata(scope: Scope): Promise<{ blobKey: string; json: string }[]> {
    const query = metadataSql(scope);
    return (await this.pool.query<{ blob_key: string; metadata: string }>(numbered(query.sql), query.params)).rows.map((row) => ({
      blobKey: row.blob_key,
      json: row.metadata,
    }));
  }

  async query(query: QidoQuery): Promise<{ rows: QidoRow[]; more: boolean }> {
    const built = qidoSql(query, postgresDialect);
    const rows = (await this.pool.query<QidoDbRow>(numbered(built.sql), built.params)).rows;
    return { rows: rows.slice(0, query.limit).map(toQidoRow), more: rows.length > query.limit };
  }

  async delete(scope: Scope): Promise<string[]> {
    const select = deleteSelectSql(scope);
    return this.transaction(async (client) => {
      const rows = (await client.query<{ sop_uid: string; series_uid: string; blob_key: string }>(`${numbered(select.sql)} FOR UPDATE`, select.params)).rows;
      if (rows.length > 0) await client.query('DELETE FROM instances WHERE sop_uid = ANY($1)', [rows.map((row) => row.sop_uid)]);
      for (const series of new Set(rows.map((row) => row.series_uid))) await client.query(numbered(sql.deleteEmptySeries), [series]);
      if (scope.series === undefined && scope.instance === undefined) await client.query('DELETE FROM series WHERE study_uid = $1', [scope.study]);
      await client.query(numbered(sql.deleteEmptyStudy), [scope.study]);
      return rows.map((row) => row.blob_key);
    });
  }

  async unreferenced(keys: readonly string[]): Promise<string[]> {
    if (keys.length === 0) return [];
    const found = await this.pool.query<{ blob_key: string }>('SELECT blob_key FROM instances WHERE blob_key = ANY($1)', [keys]);
    const known = new Set(found.rows.map((row) => row.blob_key));
    return keys.filter((key) => !known.has(key));
  }

  async ready(): Promise<boolean> {
    try {
      await this.pool.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
