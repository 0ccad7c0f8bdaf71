import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditPaths } from '../audit/audit-log.js';
import { verifyAuditTrail } from '../audit/audit-verify.js';
import { stowAs, testServer } from '../test-support/dicomweb-helpers.js';
import { corpusDir, requireCorpus } from '../test-support/requirements.js';
import { havePostgres, haveS3rver, startPostgres, startS3rver } from '../test-support/services.js';

// Certified destruction at scale: PostgreSQL index and identity, S3 objects, a SEG from another tool referencing the images.
const ready = requireCorpus() && havePostgres() && haveS3rver();
const bucket = 'paradim-destruction';
const segStudy = '1.2.392.200103.20080913.113635.0.2009.6.22.21.43.10.22941.1';

describe.skipIf(!ready)('certified destruction on PostgreSQL + S3 (dcmqi CT + liver SEG)', () => {
  let postgres: { url: string; stop: () => void };
  let s3: { endpoint: string; stop: () => void };

  beforeAll(async () => {
    [postgres, s3] = await Promise.all([startPostgres(), startS3rver(bucket)]);
  }, 90_000);

  afterAll(() => {
    s3?.stop();
    postgres?.stop();
  });

  async function objects(): Promise<string[]> {
    const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    client.destroy();
    return (listed.Contents ?? []).map((object) => object.Key ?? '');
  }

  async function rows(sql: string): Promise<number> {
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    const result = await client.query(sql);
    await client.end();
    return Number((result.rows[0] as { n: string }).n);
  }

  it('deletes objects and rows of the images and of the SEG, certifies it, and the audit chain verifies', async () => {
    // The real server, configured for scale as an operator would: PostgreSQL and S3 through the environment.
    const { app, dataDir } = await testServer({
      DATABASE_URL: postgres.url,
      PARADIM_S3_BUCKET: bucket,
      PARADIM_S3_PREFIX: 'dicom/',
      PARADIM_S3_ENDPOINT: s3.endpoint,
      PARADIM_S3_ACCESS_KEY_ID: 'S3RVER',
      PARADIM_S3_SECRET_ACCESS_KEY: 'S3RVER',
      PARADIM_ORPHAN_GRACE_SECONDS: '0',
    });
    const { identity } = app;
    const steward = await identity.identity.ensureLocalUser('steward');
    const root = await identity.identity.ensureLocalUser('root', { isAdmin: true });
    const album = await identity.identity.createAlbum({ name: 'Liver at scale', ethicsProtocol: 'MP-9', adminUserId: steward.id });
    const token = (await identity.identity.createToken({ userId: steward.id, albumId: album.id, permissions: ['read', 'write', 'download'] })).secret;
    const rootToken = (await identity.identity.createToken({ userId: root.id, albumId: null, permissions: ['read', 'write', 'download'] })).secret;
    const ct = await Promise.all(['01', '02', '03'].map((n) => readFile(join(corpusDir, 'ct-series', 'dcmqi-ct-3slice', `${n}.dcm`))));
    expect((await stowAs(app, `/albums/${album.id}/dicomweb/studies`, token, ct)).statusCode).toBe(200);
    const seg = await readFile(join(corpusDir, 'ct-series', 'dcmqi-ct-3slice-seg', 'liver.dcm'));
    expect((await stowAs(app, '/dicomweb/studies', rootToken, [seg])).statusCode).toBe(200);
    expect(await objects()).toHaveLength(4);

    const response = await app.inject({
      method: 'POST',
      url: `/api/albums/${album.id}/destroy`,
      headers: { authorization: `Bearer ${token}` },
      payload: { confirmName: 'Liver at scale', reason: 'End of ethics approval MP-9' },
    });
    expect(response.statusCode, response.body).toBe(200);
    const certificate = response.json() as { certificateId: string; storage: { blobs: string; index: string }; totals: { instances: number; blobs: number }; verification: { ok: boolean } };
    expect(certificate).toMatchObject({ storage: { blobs: 's3', index: 'postgres' }, totals: { instances: 4, blobs: 4 }, verification: { ok: true } });
    expect(await objects()).toEqual([]);
    expect(await app.dicomweb.index.instances({ study: segStudy })).toEqual([]);
    expect(await rows('SELECT count(*) AS n FROM album_series')).toBe(0);
    const certificates = await readdir(join(dataDir, 'certificates'));
    expect(certificates).toEqual([`destruction-${certificate.certificateId}.json`]);

    await app.close();
    const audit = await verifyAuditTrail(auditPaths(dataDir, undefined, postgres.url));
    expect(audit.ok, audit.problems.join('\n')).toBe(true);
  });
});
