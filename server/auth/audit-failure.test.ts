import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { auditPaths } from '../audit/audit-log.js';
import { stowAs, testServer } from '../test-support/dicomweb-helpers.js';
import { newUid, syntheticInstance } from '../test-support/synthetic-dicom.js';

describe('the audit trail cannot be bypassed', () => {
  it('refuses to answer with data when the access cannot be recorded', async () => {
    const { app, dataDir, token } = await testServer();
    const study = newUid();
    expect((await stowAs(app, '/dicomweb/studies', token, [syntheticInstance({ study, series: newUid(), sop: newUid(), patientID: 'AUDIT-PATIENT' })])).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: `/dicomweb/studies?StudyInstanceUID=${study}` })).statusCode).toBe(200);

    // The audit database starts refusing writes (disk full, permissions, tampering...).
    const db = new Database(auditPaths(dataDir).dbFile);
    db.exec("CREATE TRIGGER refuse BEFORE INSERT ON audit_entries BEGIN SELECT RAISE(ABORT, 'disk full'); END;");
    db.close();

    const search = await app.inject({ method: 'GET', url: `/dicomweb/studies?StudyInstanceUID=${study}` });
    expect(search.statusCode).toBe(503);
    expect(search.json()).toMatchObject({ error: { code: 'AUDIT_WRITE_FAILED' } });
    expect(search.body).not.toContain(study);
    expect(search.body).not.toContain('AUDIT-PATIENT');
    const retrieve = await app.inject({ method: 'GET', url: `/dicomweb/studies/${study}`, headers: { accept: 'multipart/related; type="application/dicom"' } });
    expect(retrieve.statusCode).toBe(503);
    expect(retrieve.rawPayload.includes(Buffer.from('AUDIT-PATIENT'))).toBe(false);
    await app.close();
  });
});
