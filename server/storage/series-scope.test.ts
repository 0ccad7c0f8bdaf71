import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerApp } from '../app.js';
import { stowAs, testServer } from '../test-support/dicomweb-helpers.js';
import { havePostgres, startPostgres } from '../test-support/services.js';
import { newUid, syntheticInstance } from '../test-support/synthetic-dicom.js';
import type { QidoQuery } from './dicom-index.js';

// An album's view of the index (seriesScope): matching, paging and computed attributes see only the album's series.
const postgresAvailable = havePostgres();
const backends: Array<[string, () => Promise<{ env: Record<string, string>; stop: () => void }>]> = [
  ['SQLite', async () => ({ env: {}, stop: () => undefined })],
  ...(postgresAvailable
    ? ([['PostgreSQL', async () => {
        const server = await startPostgres();
        return { env: { DATABASE_URL: server.url }, stop: server.stop };
      }]] as Array<[string, () => Promise<{ env: Record<string, string>; stop: () => void }>]>)
    : []),
];

describe.each(backends)('series scope on %s', (_name, start) => {
  let app: ServerApp;
  let stop: () => void = () => undefined;
  const study = newUid();
  const ct = newUid();
  const seg = newUid();
  const other = newUid();

  beforeAll(async () => {
    const backend = await start();
    stop = backend.stop;
    let token: string;
    ({ app, token } = await testServer(backend.env));
    const parts = [
      syntheticInstance({ study, series: ct, sop: newUid(), patientID: 'SCOPE', modality: 'CT', instanceNumber: 1 }),
      syntheticInstance({ study, series: ct, sop: newUid(), patientID: 'SCOPE', modality: 'CT', instanceNumber: 2 }),
      syntheticInstance({ study, series: seg, sop: newUid(), patientID: 'SCOPE', modality: 'SEG' }),
      syntheticInstance({ study: other, series: newUid(), sop: newUid(), patientID: 'OTHER', modality: 'MR' }),
    ];
    expect((await stowAs(app, '/dicomweb/studies', token, parts)).statusCode).toBe(200);
  }, 90_000);

  afterAll(async () => {
    await app?.close();
    stop();
  });

  const query = (over: Partial<QidoQuery>): QidoQuery => ({ level: 'study', filters: [], fuzzy: false, wantMetadata: false, limit: 100, offset: 0, ...over });

  it('counts and lists only the series in scope', async () => {
    const { rows } = await app.dicomweb.index.query(query({ seriesScope: [ct] }));
    expect(rows.map((row) => row.studyUID)).toEqual([study]);
    expect(rows[0]).toMatchObject({ numberOfStudyRelatedSeries: 1, numberOfStudyRelatedInstances: 2, modalitiesInStudy: ['CT'] });
    const whole = await app.dicomweb.index.query(query({ study }));
    expect(whole.rows[0]).toMatchObject({ numberOfStudyRelatedSeries: 2, numberOfStudyRelatedInstances: 3 });
  });

  it('matches ModalitiesInStudy, series and instances within the scope', async () => {
    const filter = { tag: '00080061', kind: 'single', value: 'SEG' } as const;
    expect((await app.dicomweb.index.query(query({ seriesScope: [ct], filters: [filter] }))).rows).toEqual([]);
    expect((await app.dicomweb.index.query(query({ seriesScope: [ct, seg], filters: [filter] }))).rows).toHaveLength(1);
    const series = await app.dicomweb.index.query(query({ level: 'series', study, seriesScope: [seg] }));
    expect(series.rows.map((row) => row.seriesUID)).toEqual([seg]);
    const instances = await app.dicomweb.index.query(query({ level: 'instance', seriesScope: [ct] }));
    expect(instances.rows).toHaveLength(2);
    const paged = await app.dicomweb.index.query(query({ level: 'instance', seriesScope: [ct], limit: 1 }));
    expect(paged).toMatchObject({ more: true });
    expect(paged.rows).toHaveLength(1);
  });
});
