import { describe, expect, it } from 'vitest';
import { loadServerConfig } from './config.js';

describe('storage and DICOMweb configuration', () => {
  it('reads PostgreSQL, S3 and CORS settings from the environment', async () => {
    const config = await loadServerConfig({
      env: {
        PARADIM_DATA_DIR: '/tmp/x',
        DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db',
        PARADIM_S3_BUCKET: 'dicom',
        PARADIM_S3_ENDPOINT: 'http://127.0.0.1:9000',
        PARADIM_S3_FORCE_PATH_STYLE: 'false',
        PARADIM_CORS_ORIGINS: 'http://a.example, http://b.example',
        PARADIM_QIDO_MAX_RESULTS: '50',
      },
    });
    expect(config).toMatchObject({
      databaseUrl: 'postgres://u:p@127.0.0.1:5432/db',
      s3Bucket: 'dicom',
      s3Endpoint: 'http://127.0.0.1:9000',
      s3ForcePathStyle: false,
      corsOrigins: ['http://a.example', 'http://b.example'],
      maxResults: 50,
    });
  });

  it('names the setting when a storage value is invalid', async () => {
    await expect(loadServerConfig({ env: { PARADIM_DATA_DIR: '/tmp/x', DATABASE_URL: 'mysql://x' } })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      details: [{ path: 'DATABASE_URL' }],
    });
    await expect(loadServerConfig({ env: { PARADIM_DATA_DIR: '/tmp/x', PARADIM_S3_ENDPOINT: 'not a url' } })).rejects.toMatchObject({
      details: [{ path: 'PARADIM_S3_ENDPOINT' }],
    });
  });
});
