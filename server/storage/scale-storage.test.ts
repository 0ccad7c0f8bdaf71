import { createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, type ServerApp } from '../app.js';
import { loadServerConfig } from '../config.js';
import { multipartBody, parseMultipartResponse, withAdminToken } from '../test-support/dicomweb-helpers.js';
import { exerciseIndex } from '../test-support/index-behaviour.js';
import { havePostgres, haveS3rver, startPostgres, startS3rver } from '../test-support/services.js';
import { newUid, syntheticInstance } from '../test-support/synthetic-dicom.js';
import { S3BlobStore } from './s3-blob-store.js';

type Json = Record<string, { vr: string; Value?: unknown[] } | undefined>;
const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

const ready = havePostgres() && haveS3rver();

describe.skipIf(!ready)('scale-out storage: PostgreSQL index and S3 blobs (real PostgreSQL 15, s3rver)', () => {
  let pg: Awaited<ReturnType<typeof startPostgres>>;
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  const apps: ServerApp[] = [];

  beforeAll(async () => {
    pg = await startPostgres();
    s3 = await startS3rver('dicom');
  }, 60_000);

  afterAll(async () => {
    for (const app of apps) await app.close();
    s3?.stop();
    pg?.stop();
  });

  async function replica(env: Record<string, string>): Promise<ServerApp> {
    const dataDir = await mkdtemp(join(tmpdir(), 'paradim-replica-'));
    const app = await buildServer(await loadServerConfig({ cli: { dataDir }, env }), pino({ level: 'silent' }), { env: {} });
    await withAdminToken(app);
    apps.push(app);
    return app;
  }
  const s3Env = (prefix = 'instances/'): Record<string, string> => ({
    PARADIM_S3_BUCKET: 'dicom',
    PARADIM_S3_ENDPOINT: s3.endpoint,
    PARADIM_S3_ACCESS_KEY_ID: 'S3RVER',
    PARADIM_S3_SECRET_ACCESS_KEY: 'S3RVER',
    PARADIM_S3_PREFIX: prefix,
  });

  it('PostgreSQL index behaves like SQLite (matching, counts, paging, WADO, delete)', async () => {
    const app = await replica({ DATABASE_URL: pg.url });
    await exerciseIndex(app);
  });

  it('S3 blobs behave the same and come back byte-identical', async () => {
    const app = await replica({ DATABASE_URL: pg.url, ...s3Env() });
    await exerciseIndex(app);
  });

  it('two replicas on one PostgreSQL + S3 store the same instances concurrently: one copy, both answer 200, both see everything', async () => {
    const a = await replica({ DATABASE_URL: pg.url, ...s3Env('replicas/') });
    const b = await replica({ DATABASE_URL: pg.url, ...s3Env('replicas/') });
    const study = newUid();
    const series = newUid();
    const items = Array.from({ length: 10 }, (_, i) => {
      const sop = newUid();
      return { sop, bytes: syntheticInstance({ study, series, sop, patientID: 'REPLICA', instanceNumber: i + 1, rows: 32, columns: 32 }) };
    });
    const { body, contentType } = multipartBody(items.map((item) => item.bytes));
    const post = (app: ServerApp) => app.inject({ method: 'POST', url: '/dicomweb/studies', headers: { 'content-type': contentType }, payload: body });
    const answers = await Promise.all([post(a), post(b), post(a), post(b)]);
    for (const answer of answers) {
      expect(answer.statusCode).toBe(200);
      expect(((answer.json() as Json)['00081199']?.Value ?? []).length).toBe(10);
    }
    for (const app of [a, b]) {
      const instances = (await app.inject({ method: 'GET', url: `/dicomweb/studies/${study}/instances` })).json() as Json[];
      expect(instances.length).toBe(10);
      const retrieved = await app.inject({ method: 'GET', url: `/dicomweb/studies/${study}` });
      const parts = parseMultipartResponse(retrieved.rawPayload, String(retrieved.headers['content-type']));
      expect(parts.map((part) => sha(part.data)).sort()).toEqual(items.map((item) => sha(item.bytes)).sort());
    }
    // Exactly one object per instance remains in the bucket: the losers' copies were deleted.
    const store = new S3BlobStore({
      bucket: 'dicom',
      prefix: 'replicas/',
      spoolDir: await mkdtemp(join(tmpdir(), 'paradim-spool-')),
      client: { endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
    });
    const keys: string[] = [];
    for await (const key of store.list(Date.now() + 60_000)) keys.push(key);
    expect(keys.length).toBe(10);
    // A delete through one replica is seen by the other.
    expect((await a.inject({ method: 'DELETE', url: `/dicomweb/studies/${study}` })).statusCode).toBe(204);
    expect((await b.inject({ method: 'GET', url: `/dicomweb/studies/${study}/metadata` })).statusCode).toBe(404);
    await store.close();
  });
});
