import Database from 'better-sqlite3';
import { recordFromRow, type AuditPaths } from './audit-log.js';

/**
 * The trail as NDJSON in the OpenSearch/Elasticsearch bulk format: an action line, then the entry, per record.
 * `_id` is the sequence number, so re-importing is idempotent.
 */
export function* exportAuditNdjson(paths: AuditPaths, index = 'paradim-audit'): Generator<string> {
  const db = new Database(paths.dbFile, { readonly: true, fileMustExist: true });
  try {
    for (const row of db.prepare('SELECT * FROM audit_entries ORDER BY seq').iterate()) {
      const record = recordFromRow(row as Parameters<typeof recordFromRow>[0]);
      yield `${JSON.stringify({ index: { _index: index, _id: String(record.seq) } })}\n`;
      yield `${JSON.stringify({ '@timestamp': record.time, ...record })}\n`;
    }
  } finally {
    db.close();
  }
}
