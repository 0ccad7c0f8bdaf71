import { existsSync, readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { genesisHash, hashAuditRecord, type AuditRecord } from './audit-entry.js';
import { checkpointMessage, recordFromRow, type AuditPaths } from './audit-log.js';
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

/**
 * Checks the whole trail: contiguous sequence numbers (a deletion leaves a gap), each entry's hash over its content
 * and its predecessor's hash (an edit or a reordering breaks the chain), every signed checkpoint (a rewritten chain
 * does not match what was signed) and the signed head file (a truncated trail ends before the head).
 */
export function verifyAuditTrail(paths: AuditPaths, publicKeyPem?: string): AuditVerification {
  const problems: string[] = [];
  if (!existsSync(paths.dbFile)) {
    return { ok: false, entries: 0, lastSeq: 0, checkpoints: 0, problems: [`the audit database ${paths.dbFile} does not exist`] };
  }
  const db = new Database(paths.dbFile, { readonly: true, fileMustExist: true });
  try {
    const storedKey = (db.prepare("SELECT value FROM audit_meta WHERE key = 'public_key'").get() as { value: string } | undefined)?.value;
    const key = publicKeyPem ?? storedKey;
    if (key === undefined) problems.push('no public key is recorded and none was given');
    if (publicKeyPem !== undefined && storedKey !== undefined && storedKey.trim() !== publicKeyPem.trim()) {
      problems.push('the public key recorded in the trail is not the one given for verification');
    }

    const hashes = new Map<number, string>();
    let expectedSeq = 1;
    let prevHash = genesisHash;
    let entries = 0;
    for (const row of db.prepare('SELECT * FROM audit_entries ORDER BY seq').iterate()) {
      const record: AuditRecord = recordFromRow(row as Parameters<typeof recordFromRow>[0]);
      entries += 1;
      if (record.seq !== expectedSeq) {
        problems.push(`entries ${expectedSeq}..${record.seq - 1} are missing (deleted or reordered)`);
      }
      if (record.prevHash !== prevHash) problems.push(`entry ${record.seq} does not follow the entry before it (chain broken)`);
      const { hash, ...rest } = record;
      if (hashAuditRecord(rest) !== hash) problems.push(`entry ${record.seq} was altered (its hash does not match its content)`);
      hashes.set(record.seq, hash);
      prevHash = hash;
      expectedSeq = record.seq + 1;
    }
    const lastSeq = expectedSeq - 1;

    const checkpoints = db.prepare('SELECT * FROM audit_checkpoints ORDER BY seq').all() as CheckpointRow[];
    const checkCheckpoint = (checkpoint: CheckpointRow, label: string): void => {
      if (key !== undefined && !verifySignature(key, checkpointMessage(checkpoint.seq, checkpoint.hash, checkpoint.time), checkpoint.signature)) {
        problems.push(`${label} at entry ${checkpoint.seq} has an invalid signature`);
      }
      const actual = hashes.get(checkpoint.seq);
      if (actual === undefined) problems.push(`${label} names entry ${checkpoint.seq}, which is missing (the trail was truncated)`);
      else if (actual !== checkpoint.hash) problems.push(`${label} at entry ${checkpoint.seq} does not match the trail (rewritten)`);
    };
    for (const checkpoint of checkpoints) checkCheckpoint(checkpoint, 'checkpoint');

    if (existsSync(paths.headFile)) {
      try {
        const head = JSON.parse(readFileSync(paths.headFile, 'utf8')) as CheckpointRow;
        checkCheckpoint(head, 'the signed head');
      } catch {
        problems.push(`the head file ${paths.headFile} is unreadable`);
      }
    } else if (entries > 0 && checkpoints.length > 0) {
      problems.push(`the head file ${paths.headFile} is missing`);
    }
    return { ok: problems.length === 0, entries, lastSeq, checkpoints: checkpoints.length, problems };
  } finally {
    db.close();
  }
}
