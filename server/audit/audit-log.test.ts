import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from './audit-entry.js';
import { exportAuditNdjson } from './audit-export.js';
import { AuditLog, auditPaths, type AuditPaths } from './audit-log.js';
import { verifyAuditTrail } from './audit-verify.js';

function event(overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    action: 'dicomweb.retrieve',
    outcome: 'success',
    actorId: 'user-1',
    tokenId: 'tok-1',
    albumId: 'album-1',
    studyInstanceUID: '1.2.826.0.1.3680043.8.498.1',
    seriesInstanceUID: null,
    sopInstanceUID: null,
    httpStatus: 200,
    clientAddress: '127.0.0.1',
    requestId: 'req-1',
    detail: { route: '/studies/:study' },
    ...overrides,
  };
}

async function filledTrail(count: number, checkpointEvery = 10): Promise<AuditPaths> {
  const paths = auditPaths(await mkdtemp(join(tmpdir(), 'paradim-audit-')));
  const log = await AuditLog.open(paths, { checkpointEvery });
  // Groups of five concurrent requests, as a busy server sees them.
  for (let i = 0; i < count; i += 5) {
    await Promise.all(Array.from({ length: Math.min(5, count - i) }, (_, j) => log.append(event({ requestId: `req-${i + j}` }))));
  }
  await log.close();
  return paths;
}

/** What an attacker with file access does: drop the guard triggers, then change rows. */
function tamper(paths: AuditPaths, sql: string): void {
  const db = new Database(paths.dbFile);
  db.exec('DROP TRIGGER audit_entries_no_update; DROP TRIGGER audit_entries_no_delete;');
  db.exec(sql);
  db.close();
}

describe('audit trail', () => {
  it('chains every entry, group-commits concurrent appends and verifies intact', async () => {
    const paths = await filledTrail(57);
    const result = await verifyAuditTrail(paths);
    expect(result).toMatchObject({ ok: true, entries: 57, lastSeq: 57, problems: [] });
    expect(result.checkpoints).toBeGreaterThanOrEqual(1);
  });

  it('keeps one chain while a flush commits before the previous one is synced, and publishes the newest head', async () => {
    const paths = auditPaths(await mkdtemp(join(tmpdir(), 'paradim-audit-')));
    const log = await AuditLog.open(paths, { checkpointEvery: 7 });
    // Appends arriving on every turn of the event loop, as requests finish on a busy server: flushes overlap.
    const appended: Promise<{ seq: number }>[] = [];
    for (let i = 0; i < 120; i++) {
      appended.push(log.append(event({ requestId: `req-${i}` })));
      if (i % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const records = await Promise.all(appended);
    expect(records.map((record) => record.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    await log.close();
    expect(await verifyAuditTrail(paths)).toMatchObject({ ok: true, entries: 120, lastSeq: 120, problems: [] });
    expect(JSON.parse(readFileSync(paths.headFile, 'utf8'))).toMatchObject({ seq: 120 });
  });

  it('asks before each commit whether to sync on the event loop, and keeps one chain whichever it answers', async () => {
    const paths = auditPaths(await mkdtemp(join(tmpdir(), 'paradim-audit-')));
    let asked = 0;
    // Alternating answers, as a server sees them when requests come and go.
    const log = await AuditLog.open(paths, { checkpointEvery: 5, syncInline: () => ++asked % 2 === 0 });
    const appended: Promise<{ seq: number }>[] = [];
    for (let i = 0; i < 60; i++) {
      appended.push(log.append(event({ requestId: `req-${i}` })));
      if (i % 4 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const records = await Promise.all(appended);
    expect(asked).toBeGreaterThanOrEqual(4);
    expect(records.map((record) => record.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    await log.close();
    expect(await verifyAuditTrail(paths)).toMatchObject({ ok: true, entries: 60, lastSeq: 60, problems: [] });
  });

  it('keeps one chain when two processes share the trail', async () => {
    const paths = auditPaths(await mkdtemp(join(tmpdir(), 'paradim-audit-')));
    const a = await AuditLog.open(paths);
    const b = await AuditLog.open(paths);
    for (let i = 0; i < 20; i++) await Promise.all([a.append(event({ requestId: `a${i}` })), b.append(event({ requestId: `b${i}` }))]);
    await a.close();
    await b.close();
    expect(await verifyAuditTrail(paths)).toMatchObject({ ok: true, entries: 40 });
  });

  it('refuses updates and deletes through SQL while the guards are in place', async () => {
    const paths = await filledTrail(3);
    const db = new Database(paths.dbFile);
    expect(() => db.prepare("UPDATE audit_entries SET actor_id = 'x' WHERE seq = 1").run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM audit_entries WHERE seq = 1').run()).toThrow(/append-only/);
    db.close();
  });

  it('detects an edited entry', async () => {
    const paths = await filledTrail(30);
    tamper(paths, "UPDATE audit_entries SET actor_id = 'someone-else' WHERE seq = 7");
    const result = await verifyAuditTrail(paths);
    expect(result.ok).toBe(false);
    expect(result.problems).toContain('entry 7 was altered (its hash does not match its content)');
  });

  it('detects a deleted entry', async () => {
    const paths = await filledTrail(30);
    tamper(paths, 'DELETE FROM audit_entries WHERE seq = 12');
    const result = await verifyAuditTrail(paths);
    expect(result.ok).toBe(false);
    expect(result.problems.join('\n')).toMatch(/entries 12\.\.12 are missing/);
  });

  it('detects reordered entries', async () => {
    const paths = await filledTrail(30);
    tamper(paths, 'UPDATE audit_entries SET seq = -1 WHERE seq = 5; UPDATE audit_entries SET seq = 5 WHERE seq = 6; UPDATE audit_entries SET seq = 6 WHERE seq = -1;');
    const result = await verifyAuditTrail(paths);
    expect(result.ok).toBe(false);
    expect(result.problems.join('\n')).toMatch(/entry (5|6) does not follow/);
  });

  it('detects a truncated trail through the signed head', async () => {
    const paths = await filledTrail(30, 1000);
    tamper(paths, 'DELETE FROM audit_entries WHERE seq > 25; DELETE FROM audit_checkpoints WHERE seq > 25;');
    const result = await verifyAuditTrail(paths);
    expect(result.ok).toBe(false);
    expect(result.problems.join('\n')).toMatch(/the signed head names entry 30, which is missing/);
  });

  it('detects a chain rewritten after an edit, through the signed checkpoints', async () => {
    const paths = await filledTrail(30, 10);
    // Re-hash the whole chain after editing entry 3, as an attacker without the signing key would.
    const db = new Database(paths.dbFile);
    db.exec('DROP TRIGGER audit_entries_no_update;');
    db.prepare("UPDATE audit_entries SET outcome = 'denied' WHERE seq = 3").run();
    const { hashAuditRecord, genesisHash } = await import('./audit-entry.js');
    const { recordFromRow } = await import('./audit-log.js');
    let prev = genesisHash;
    for (const row of db.prepare('SELECT * FROM audit_entries ORDER BY seq').all()) {
      const record = recordFromRow(row as Parameters<typeof recordFromRow>[0]);
      const { hash: _old, ...rest } = { ...record, prevHash: prev };
      const hash = hashAuditRecord(rest);
      db.prepare('UPDATE audit_entries SET prev_hash = ?, hash = ? WHERE seq = ?').run(prev, hash, record.seq);
      prev = hash;
    }
    db.close();
    const result = await verifyAuditTrail(paths);
    expect(result.ok).toBe(false);
    expect(result.problems.join('\n')).toMatch(/checkpoint at entry 10 does not match the trail \(rewritten\)/);
  });

  it('fails the append, and so the request, when the entry cannot be written', async () => {
    const paths = auditPaths(await mkdtemp(join(tmpdir(), 'paradim-audit-')));
    const log = await AuditLog.open(paths);
    await log.append(event());
    const db = new Database(paths.dbFile);
    db.exec("CREATE TRIGGER fail_insert BEFORE INSERT ON audit_entries BEGIN SELECT RAISE(ABORT, 'disk full'); END;");
    db.close();
    await expect(log.append(event())).rejects.toMatchObject({ code: 'AUDIT_WRITE_FAILED' });
    await expect(log.append({ ...event(), action: 'not.an.action' as 'album.read' })).rejects.toMatchObject({ code: 'AUDIT_WRITE_FAILED' });
  });

  it('queries with filters and exports the OpenSearch bulk format', async () => {
    const paths = auditPaths(await mkdtemp(join(tmpdir(), 'paradim-audit-')));
    const log = await AuditLog.open(paths);
    await log.append(event({ actorId: 'alice', action: 'album.read' }));
    await log.append(event({ actorId: 'bob', outcome: 'denied', action: 'auth.denied', httpStatus: 403 }));
    await log.append(event({ actorId: 'alice', action: 'dicomweb.search' }));
    expect((await log.query({ actorId: 'alice' })).map((r) => r.action)).toEqual(['album.read', 'dicomweb.search']);
    expect(await log.query({ outcome: 'denied' })).toHaveLength(1);
    expect((await log.query({ afterSeq: 1, limit: 1 })).map((r) => r.seq)).toEqual([2]);
    await log.close();
    const lines: Array<Record<string, unknown>> = [];
    for await (const line of exportAuditNdjson(paths)) lines.push(JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(6);
    expect(lines[0]).toEqual({ index: { _index: 'paradim-audit', _id: '1' } });
    expect(lines[1]).toMatchObject({ seq: 1, actorId: 'alice', action: 'album.read' });
    expect(typeof lines[1]?.['@timestamp']).toBe('string');
  });
});
