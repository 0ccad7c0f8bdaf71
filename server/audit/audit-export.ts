import { openAuditDb, recordFromRow, type AuditPaths } from './audit-log.js';
import { auditRows } from './audit-verify.js';

/**
 * The trail as NDJSON in the OpenSearch/Elasticsearch bulk format: an action line, then the entry, per record.
 * `_id` is the sequence number, so re-importing is idempotent.
 */
export async function* exportAuditNdjson(paths: AuditPaths, index = 'paradim-audit'): AsyncGenerator<string> {
  const db = openAuditDb(paths, { readonly: true });
  try {
    for await (const row of auditRows(db)) {
      const record = recordFromRow(row);
      yield `${JSON.stringify({ index: { _index: index, _id: String(record.seq) } })}\n`;
      yield `${JSON.stringify({ '@timestamp': record.time, ...record })}\n`;
    }
  } finally {
    await db.close();
  }
}
