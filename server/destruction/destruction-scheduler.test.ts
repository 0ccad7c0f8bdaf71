import { describe, expect, it } from 'vitest';
import { stowAs, testServer } from '../test-support/dicomweb-helpers.js';
import { newUid, syntheticInstance } from '../test-support/synthetic-dicom.js';
import { scheduledDestructionActor } from './destruction-scheduler.js';

describe('destruction at the end of the ethics approval', () => {
  it('destroys albums whose destruction date has come, once, and leaves the others', async () => {
    const { app, token } = await testServer();
    const store = app.identity.identity;
    const steward = await store.ensureLocalUser('steward');
    const due = await store.createAlbum({ name: 'Ended', destructionDate: '2020-01-31', adminUserId: steward.id });
    const future = await store.createAlbum({ name: 'Running', destructionDate: '2999-12-31', adminUserId: steward.id });
    const study = newUid();
    const seriesDue = newUid();
    const seriesKept = newUid();
    expect((await stowAs(app, `/albums/${due.id}/dicomweb/studies`, token, [syntheticInstance({ study, series: seriesDue, sop: newUid(), patientID: 'P' })])).statusCode).toBe(200);
    expect((await stowAs(app, `/albums/${future.id}/dicomweb/studies`, token, [syntheticInstance({ study, series: seriesKept, sop: newUid(), patientID: 'P' })])).statusCode).toBe(200);

    const [certificateId, ...others] = await app.destructionScheduler.runOnce();
    expect(certificateId).toBeDefined();
    expect(others).toEqual([]);
    expect(await app.destructionScheduler.runOnce()).toEqual([]);
    expect((await store.getAlbum(due.id))?.destroyedAt).not.toBeNull();
    expect((await store.getAlbum(future.id))?.destroyedAt).toBeNull();
    expect(await app.dicomweb.index.instances({ study, series: seriesDue })).toEqual([]);
    expect(await app.dicomweb.index.instances({ study, series: seriesKept })).toHaveLength(1);
    const [entry] = await app.identity.audit.query({ action: 'destruction.certify' });
    expect(entry).toMatchObject({ actorId: scheduledDestructionActor, albumId: due.id, outcome: 'success' });
    await app.close();
  });

  it('destroys one study of an album at its own destruction date and keeps the album and its other studies', async () => {
    const { app, token } = await testServer();
    const store = app.identity.identity;
    const steward = await store.ensureLocalUser('steward');
    const album = await store.createAlbum({ name: 'Cohort', destructionDate: '2999-12-31', adminUserId: steward.id });
    const withdrawn = newUid();
    const kept = newUid();
    const parts = [withdrawn, kept].map((study) => syntheticInstance({ study, series: newUid(), sop: newUid(), patientID: 'P' }));
    expect((await stowAs(app, `/albums/${album.id}/dicomweb/studies`, token, parts)).statusCode).toBe(200);
    const set = await app.inject({ method: 'PUT', url: `/api/albums/${album.id}/studies/${withdrawn}/destruction-date`, payload: { date: '2021-06-30' } });
    expect(set.statusCode, set.body).toBe(200);

    const [certificateId] = await app.destructionScheduler.runOnce();
    expect(certificateId).toBeDefined();
    expect(await app.destructionScheduler.runOnce()).toEqual([]);
    expect((await store.getAlbum(album.id))?.destroyedAt).toBeNull();
    expect((await store.listAlbumSeries(album.id)).map((s) => s.studyInstanceUID)).toEqual([kept]);
    expect(await app.dicomweb.index.instances({ study: withdrawn })).toEqual([]);
    expect(await app.dicomweb.index.instances({ study: kept })).toHaveLength(1);
    const [entry] = await app.identity.audit.query({ action: 'destruction.certify' });
    expect(entry).toMatchObject({ studyInstanceUID: withdrawn, detail: { scope: 'study' } });
    await app.close();
  });
});
