import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditPaths } from '../audit/audit-log.js';
import { verifyAuditTrail } from '../audit/audit-verify.js';
import type { ServerApp } from '../app.js';
import type { DicomwebServices } from '../dicomweb/services.js';
import { parseMultipartResponse, stowAs, testServer } from '../test-support/dicomweb-helpers.js';
import { corpusDir, requireCorpus } from '../test-support/requirements.js';
import { newUid, syntheticInstance } from '../test-support/synthetic-dicom.js';
import type { IdentityModule } from './identity-module.js';

// Album-scoped DICOMweb and certified destruction on the real server with its embedded storage (SQLite + files).
let app: ServerApp;
let storage: DicomwebServices;
let identity: IdentityModule;
let dataDir: string;
let albumId = '';
const t: Record<string, string> = {};
const study = newUid();
const inAlbum = newUid();
const notInAlbum = newUid();
const otherStudy = newUid();
const sops = { a1: newUid(), a2: newUid(), b1: newUid(), c1: newUid() };

beforeAll(async () => {
  ({ app, dataDir } = await testServer());
  identity = app.identity;
  storage = app.dicomweb;

  const store = identity.identity;
  const root = await store.ensureLocalUser('root', { isAdmin: true });
  const steward = await store.ensureLocalUser('steward');
  const reader = await store.ensureLocalUser('reader');
  const album = await store.createAlbum({ name: 'Liver 2026', ethicsProtocol: 'MP-1', adminUserId: steward.id });
  albumId = album.id;
  await store.addMember(album.id, reader.id, { flags: { download: false } });
  const all = ['read', 'write', 'download'] as const;
  t.root = (await store.createToken({ userId: root.id, albumId: null, permissions: all })).secret;
  t.steward = (await store.createToken({ userId: steward.id, albumId: null, permissions: all })).secret;
  t.stewardGlobal = t.steward;
  t.reader = (await store.createToken({ userId: reader.id, albumId: album.id, permissions: all })).secret;
  t.stranger = (await store.createToken({ userId: (await store.ensureLocalUser('stranger')).id, albumId: null, permissions: all })).secret;
});

afterAll(async () => {
  await app.close();
});

const stow = (url: string, token: string, parts: Buffer[]): Promise<LightMyRequestResponse> => stowAs(app, url, token, parts);

const get = (url: string, token: string, accept = 'application/dicom+json'): Promise<LightMyRequestResponse> =>
  app.inject({ method: 'GET', url, headers: { accept, authorization: `Bearer ${token}` } });

type Json = Record<string, { Value?: unknown[] }>;

describe('album-scoped DICOMweb', () => {
  it('stores into the album through its root; the server-wide root is for administrators', async () => {
    const viaAlbum = await stow(`/albums/${albumId}/dicomweb/studies`, t.steward ?? '', [
      syntheticInstance({ study, series: inAlbum, sop: sops.a1, patientID: 'P1', modality: 'CT', instanceNumber: 1 }),
      syntheticInstance({ study, series: inAlbum, sop: sops.a2, patientID: 'P1', modality: 'CT', instanceNumber: 2 }),
    ]);
    expect(viaAlbum.statusCode).toBe(200);
    expect(await identity.identity.isSeriesInAlbum(albumId, study, inAlbum)).toBe(true);
    expect((await stow('/dicomweb/studies', t.steward ?? '', [syntheticInstance({ study, series: notInAlbum, sop: sops.b1, patientID: 'P1', modality: 'SEG' })])).statusCode).toBe(403);
    const viaGlobal = await stow('/dicomweb/studies', t.root ?? '', [
      syntheticInstance({ study, series: notInAlbum, sop: sops.b1, patientID: 'P1', modality: 'SEG' }),
      syntheticInstance({ study: otherStudy, series: newUid(), sop: sops.c1, patientID: 'P2', modality: 'MR' }),
    ]);
    expect(viaGlobal.statusCode).toBe(200);
  });

  it('answers searches with the album series only, computed attributes included', async () => {
    const studies = (await get(`/albums/${albumId}/dicomweb/studies`, t.reader ?? '')).json() as Json[];
    expect(studies).toHaveLength(1);
    expect(studies[0]?.['0020000D']?.Value).toEqual([study]);
    expect(studies[0]?.['00201206']?.Value).toEqual([1]);
    expect(studies[0]?.['00201208']?.Value).toEqual([2]);
    expect(studies[0]?.['00080061']?.Value).toEqual(['CT']);
    expect((await get(`/albums/${albumId}/dicomweb/studies?ModalitiesInStudy=SEG`, t.reader ?? '')).json()).toEqual([]);
    expect(((await get('/dicomweb/studies?ModalitiesInStudy=SEG', t.root ?? '')).json() as Json[]).length).toBe(1);
    const albums = (await app.inject({ method: 'GET', url: '/api/albums', headers: { authorization: `Bearer ${t.reader}` } })).json() as Array<{ modalities: string[]; series: number }>;
    expect(albums).toEqual([expect.objectContaining({ modalities: ['CT'], series: 1 })]);
    const series = (await get(`/albums/${albumId}/dicomweb/studies/${study}/series`, t.reader ?? '')).json() as Json[];
    expect(series.map((s) => s['0020000E']?.Value?.[0])).toEqual([inAlbum]);
  });

  it('retrieves only album instances, honours the download flag and refuses strangers', async () => {
    const steward = await get(`/albums/${albumId}/dicomweb/studies/${study}`, t.steward ?? '', 'multipart/related; type="application/dicom"');
    expect(steward.statusCode).toBe(200);
    expect(parseMultipartResponse(steward.rawPayload, String(steward.headers['content-type']))).toHaveLength(2);
    expect((await get(`/albums/${albumId}/dicomweb/studies/${study}/series/${notInAlbum}/instances/${sops.b1}/metadata`, t.steward ?? '')).statusCode).toBe(404);
    expect((await get(`/albums/${albumId}/dicomweb/studies/${study}`, t.reader ?? '', 'multipart/related; type="application/dicom"')).statusCode).toBe(403);
    expect((await get(`/albums/${albumId}/dicomweb/studies/${study}/metadata`, t.reader ?? '')).statusCode).toBe(200);
    const stranger = await get(`/albums/${albumId}/dicomweb/studies`, t.stranger ?? '');
    expect(stranger.statusCode).toBe(403);
    expect(stranger.body).not.toContain(study);
  });

  it('DELETE in an album removes the series from the album, not from the server', async () => {
    const removed = await app.inject({ method: 'DELETE', url: `/albums/${albumId}/dicomweb/studies/${study}/series/${inAlbum}`, headers: { authorization: `Bearer ${t.steward}` } });
    expect(removed.statusCode).toBe(204);
    expect((await get(`/albums/${albumId}/dicomweb/studies`, t.steward ?? '')).json()).toEqual([]);
    expect(((await get(`/dicomweb/studies/${study}/series/${inAlbum}/instances`, t.root ?? '')).json() as Json[]).length).toBe(2);
    await identity.identity.addSeries(albumId, study, inAlbum);
  });
});

describe('certified destruction', () => {
  it('deletes what only the album holds, proves it, signs a certificate and keeps the audit chain intact', async () => {
    const wrongName = await app.inject({ method: 'POST', url: `/api/albums/${albumId}/destroy`, headers: { authorization: `Bearer ${t.steward}` }, payload: { confirmName: 'liver', reason: 'end of approval' } });
    expect(wrongName.statusCode).toBe(400);
    const readerTry = await app.inject({ method: 'POST', url: `/api/albums/${albumId}/destroy`, headers: { authorization: `Bearer ${t.reader}` }, payload: { confirmName: 'Liver 2026', reason: 'x' } });
    expect(readerTry.statusCode).toBe(403);
    const blobKeys = (await storage.index.instances({ study, series: inAlbum })).map((row) => row.blobKey);
    expect(blobKeys).toHaveLength(2);

    const response = await app.inject({ method: 'POST', url: `/api/albums/${albumId}/destroy`, headers: { authorization: `Bearer ${t.steward}` }, payload: { confirmName: 'Liver 2026', reason: 'End of ethics approval MP-1' } });
    expect(response.statusCode, response.body).toBe(200);
    const certificate = response.json() as { verification: { ok: boolean }; totals: { series: number; instances: number; blobs: number }; series: Array<{ instanceHashes: string[] }>; signature: string };
    expect(certificate.verification.ok).toBe(true);
    expect(certificate.totals).toEqual({ series: 1, instances: 2, blobs: 2 });
    expect(response.body).not.toContain(inAlbum);
    expect(response.body).not.toContain(sops.a1);
    expect(certificate.signature.length).toBeGreaterThan(40);

    expect(await storage.index.instances({ study, series: inAlbum })).toEqual([]);
    for (const key of blobKeys) await expect(storage.blobs.size(key)).rejects.toThrow();
    // The series the album did not hold stays.
    expect(await storage.index.instances({ study, series: notInAlbum })).toHaveLength(1);
    // The album and its tokens are gone.
    expect((await get(`/albums/${albumId}/dicomweb/studies`, t.reader ?? '')).statusCode).toBe(401);
    await identity.audit.checkpointNow();
    const audit = await verifyAuditTrail(auditPaths(dataDir));
    expect(audit.ok, audit.problems.join('\n')).toBe(true);
    expect((await identity.audit.query({ action: 'album.destroy' })).map((e) => e.outcome)).toEqual(['failed', 'success']);
    expect(await identity.audit.query({ action: 'destruction.certify' })).toHaveLength(1);
  });
});

const haveCorpus = requireCorpus();

describe.skipIf(!haveCorpus)('certified destruction of derived objects (dcmqi CT + liver SEG from the corpus)', () => {
  it('destroys a SEG stored outside the album when it references destroyed images', async () => {
    const store = identity.identity;
    const steward = await store.ensureLocalUser('steward');
    const album = await store.createAlbum({ name: 'Liver SEG', adminUserId: steward.id });
    const token = (await store.createToken({ userId: steward.id, albumId: album.id, permissions: ['read', 'write', 'download'] })).secret;
    const ct = await Promise.all(['01', '02', '03'].map((n) => readFile(join(corpusDir, 'ct-series', 'dcmqi-ct-3slice', `${n}.dcm`))));
    expect((await stow(`/albums/${album.id}/dicomweb/studies`, token, ct)).statusCode).toBe(200);
    const seg = await readFile(join(corpusDir, 'ct-series', 'dcmqi-ct-3slice-seg', 'liver.dcm'));
    expect((await stow('/dicomweb/studies', t.root ?? '', [seg])).statusCode).toBe(200);
    const segStudy = '1.2.392.200103.20080913.113635.0.2009.6.22.21.43.10.22941.1';
    const segSeries = '1.2.276.0.7230010.3.1.3.0.42154.1458337731.665795';
    expect(await storage.index.instances({ study: segStudy, series: segSeries })).toHaveLength(1);

    const response = await app.inject({ method: 'POST', url: `/api/albums/${album.id}/destroy`, headers: { authorization: `Bearer ${token}` }, payload: { confirmName: 'Liver SEG', reason: 'end of approval' } });
    expect(response.statusCode, response.body).toBe(200);
    const certificate = response.json() as { totals: { series: number; instances: number }; series: Array<{ derived: boolean }>; verification: { ok: boolean } };
    expect(certificate.verification.ok).toBe(true);
    expect(certificate.totals).toMatchObject({ series: 1, instances: 4 });
    expect(certificate.series.filter((item) => item.derived)).toHaveLength(1);
    expect(await storage.index.instances({ study: segStudy })).toEqual([]);
  });
});
