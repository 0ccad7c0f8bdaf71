import { existsSync, readFileSync } from 'node:fs';
import type { SqlDb } from '../db/sql-db.js';
import { genesisHash, hashAuditRecord } from './audit-entry.js';
import { checkpointMessage, openAuditDb, recordFromRow, type AuditPaths } from './audit-log.js';
import { verifySignature } from './audit-signer.js';

export interface AuditVerification {
  readonly ok: boolean;
  readonly entries: number;
  readonly lastSeq: number;
  readonly checkpoints: number;
  /** Each problem names the entry (seq) and what is wrong; empty when the trail is intact. */
  readonly problems: readonly string[];
}

interface CheckpointRow {
  seq: number;
  hash: string;
  time: string;
  signature: string;
}

const page = 5000;

/** Every entry in sequence order, a page at a time (bounded memory whatever the trail's size). */
export async function* auditRows(db: SqlDb): AsyncGenerator<Parameters<typeof recordFromRow>[0]> {
  let after = -1;
  for (;;) {
    const rows = await db.all<Parameters<typeof recordFromRow>[0]>('SELECT * FROM audit_entries WHERE seq > ? ORDER BY seq LIMIT ?', [after, page]);
    yield* rows;
    if (rows.length < page) return;
    after = Number(rows[rows.length - 1]?.seq);
  }
}

/**
 * Checks the whole trail: contiguous sequence numbers (a deletion leaves a gap), each entry's hash over its content
 * and its predecessor's hash (an edit or a reordering breaks the chain), every signed checkpoint (a rewritten chain
 * does not match what was signed) and, for the embedded trail, the signed head file (a truncated trail ends before it).
 */
export async function verifyAuditTrail(paths: AuditPaths, publicKeyPem?: string): Promise<AuditVerification> {
  if (paths.databaseUrl === undefined && !existsSync(paths.dbFile)) {
    return { ok: false, entries: 0, lastSeq: 0, checkpoints: 0, problems: [`the audit database ${paths.dbFile} does not exist`] };
  }
  const problems: string[] = [];
  const db = openAuditDb(paths, { readonly: true });
  try {
    const storedKey = (await db.get<{ value: string }>("SELECT value FROM audit_meta WHERE key = 'public_key'"))?.value;
    const key = publicKeyPem ?? storedKey;
    if (key === undefined) problems.push('no public key is recorded and none was given');
    if (publicKeyPem !== undefined && storedKey !== undefined && storedKey.trim() !== publicKeyPem.trim()) {
      problems.push('the public key recorded in the trail is not the one given for verification');
    }

    const hashes = new Map<number, string>();
    let expectedSeq = 1;
    let prevHash = genesisHash;
    let entries = 0;
    for await (const row of auditRows(db)) {
      const record = recordFromRow(row);
      entries += 1;
      if (record.seq !== expectedSeq) problems.push(`entries ${expectedSeq}..${record.seq - 1} are missing (deleted or reordered)`);
      if (record.prevHash !== prevHash) problems.push(`entry ${record.seq} does not follow the entry before it (chain broken)`);
      const { hash, ...rest } = record;
      if (hashAuditRecord(rest) !== hash) problems.push(`entry ${record.seq} was altered (its hash does not match its content)`);
      hashes.set(record.seq, hash);
      prevHash = hash;
      expectedSeq = record.seq + 1;
    }
    const lastSeq = expectedSeq - 1;

    const checkpoints = (await db.all<{ seq: number | string; hash: string; time: string; signature: string }>('SELECT * FROM audit_checkpoints ORDER BY seq')).map(
      (row): CheckpointRow => ({ seq: Number(row.seq), hash: row.hash, time: row.time, signature: row.signature }),
    );
    const checkCheckpoint = (checkpoint: CheckpointRow, label: string): void => {
      if (key !== undefined && !verifySignature(key, checkpointMessage(checkpoint.seq, checkpoint.hash, checkpoint.time), checkpoint.signature)) {
        problems.push(`${label} at entry ${checkpoint.seq} has an invalid signature`);
      }
      const actual = hashes.get(checkpoint.seq);
      if (actual === undefined) problems.push(`${label} names entry ${checkpoint.seq}, which is missing (the trail was truncated)`);
      else if (actual !== checkpoint.hash) problems.push(`${label} at entry ${checkpoint.seq} does not match the trail (rewritten)`);
    };
    for (const checkpoint of checkpoints) checkCheckpoint(checkpoint, 'checkpoint');

    if (paths.databaseUrl === undefined) {
      if (existsSync(paths.headFile)) {
        try {
          checkCheckpoint(JSON.parse(readFileSync(paths.headFile, 'utf8')) as CheckpointRow, 'the signed head');
        } catch {
          problems.push(`the head file ${paths.headFile} is unreadable`);
        }
      } else if (entries > 0 && checkpoints.length > 0) {
        problems.push(`the head file ${paths.headFile} is missing`);
      }
    }
    return { ok: problems.length === 0, entries, lastSeq, checkpoints: checkpoints.length, problems };
  } finally {
    await db.close();
  }
}
