import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, auditPaths } from '../audit/audit-log.js';
import { verifyAuditTrail } from '../audit/audit-verify.js';
import { havePostgres, startPostgres } from '../test-support/services.js';
import { IdentityStore } from './identity-store.js';

// At scale the identity store and the audit trail live in PostgreSQL, shared by several stateless replicas.
const available = havePostgres();

describe.skipIf(!available)('identity and audit on PostgreSQL (two replicas, one database)', () => {
  let server: { url: string; stop: () => void };
  let dataDir: string;

  beforeAll(async () => {
    server = await startPostgres();
    dataDir = await mkdtemp(join(tmpdir(), 'paradim-pg-identity-'));
  }, 60_000);
  afterAll(() => server?.stop());

  it('shares users, tokens and albums between replicas', async () => {
    const a = await IdentityStore.open({ dataDir, databaseUrl: server.url });
    const b = await IdentityStore.open({ dataDir, databaseUrl: server.url });
    const user = await a.ensureLocalUser('alice');
    const album = await a.createAlbum({ name: 'Shared', adminUserId: user.id });
    const { secret } = await a.createToken({ userId: user.id, albumId: album.id, permissions: ['read'] });
    expect(await b.authenticate(secret)).toMatchObject({ ok: true, user: { id: user.id } });
    expect(await b.addSeries(album.id, '1.2.3', '1.2.3.4')).toBe(true);
    expect(await a.isSeriesInAlbum(album.id, '1.2.3', '1.2.3.4')).toBe(true);
    expect((await a.listEvents(album.id)).map((e) => e.type)).toEqual(['member-added', 'series-added']);
    expect(await b.revokeToken(secret)).toBe(true);
    expect(await a.authenticate(secret)).toMatchObject({ ok: false, reason: 'revoked' });
    expect(await a.listAlbums({ memberUserId: user.id })).toHaveLength(1);
    await a.close();
    await b.close();
  });

  it('keeps one hash chain when two replicas append at the same time, and detects tampering', async () => {
    const paths = (replica: string): ReturnType<typeof auditPaths> => auditPaths(join(dataDir, replica), join(dataDir, 'audit-key.pem'), server.url);
    const one = await AuditLog.open(paths('r1'), { checkpointEvery: 10 });
    const two = await AuditLog.open(paths('r2'), { checkpointEvery: 10 });
    const event = (requestId: string) =>
      ({
        action: 'dicomweb.search',
        outcome: 'success',
        actorId: 'u',
        tokenId: null,
        albumId: null,
        studyInstanceUID: null,
        seriesInstanceUID: null,
        sopInstanceUID: null,
        httpStatus: 200,
        clientAddress: '127.0.0.1',
        requestId,
        detail: null,
      }) as const;
    for (let i = 0; i < 15; i++) await Promise.all([one.append(event(`a${i}`)), two.append(event(`b${i}`)), one.append(event(`c${i}`))]);
    await one.close();
    await two.close();
    const intact = await verifyAuditTrail(paths('r1'));
    expect(intact, intact.problems.join('\n')).toMatchObject({ ok: true, entries: 45 });
    expect(intact.checkpoints).toBeGreaterThan(1);

    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    await expect(client.query("UPDATE audit_entries SET actor_id = 'x' WHERE seq = 3")).rejects.toThrow(/append-only/);
    await client.query('ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_no_update');
    await client.query("UPDATE audit_entries SET actor_id = 'x' WHERE seq = 3");
    await client.end();
    const tampered = await verifyAuditTrail(paths('r1'));
    expect(tampered.ok).toBe(false);
    expect(tampered.problems).toContain('entry 3 was altered (its hash does not match its content)');
  });
});
