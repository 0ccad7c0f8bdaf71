import { expect } from 'vitest';
import type { ServerApp } from '../app.js';
import { multipartBody, parseMultipartResponse } from './dicomweb-helpers.js';
import { newUid, syntheticInstance } from './synthetic-dicom.js';

type Json = Record<string, { vr: string; Value?: unknown[] } | undefined>;

/**
 * The QIDO/WADO/DELETE behaviour every index backend must show, on a small synthetic archive. Run against SQLite and
 * PostgreSQL so both answer the same.
 */
export async function exerciseIndex(app: ServerApp): Promise<void> {
  const tag = newUid().slice(-8);
  const patients = [`P${tag}-1`, `P${tag}-2`];
  const studies = [
    { uid: newUid(), patient: patients[0] as string, name: 'Smith^Anna', date: '20200115', series: [{ modality: 'CT', count: 3 }, { modality: 'SEG', count: 1 }] },
    { uid: newUid(), patient: patients[0] as string, name: 'Smith^Anna', date: '20210620', series: [{ modality: 'MR', count: 2 }] },
    { uid: newUid(), patient: patients[1] as string, name: 'Jones^Bob', date: '20220301', series: [{ modality: 'CT', count: 2 }], sex: 'M' },
  ];
  const all: { study: string; series: string; sop: string; bytes: Buffer; modality: string }[] = [];
  for (const study of studies) {
    study.series.forEach((series, s) => {
      const seriesUid = newUid();
      for (let i = 0; i < series.count; i += 1) {
        const sop = newUid();
        const bytes = syntheticInstance({ study: study.uid, series: seriesUid, sop, patientID: study.patient, patientName: study.name, patientSex: 'sex' in study ? study.sex : 'F', studyDate: study.date, modality: series.modality, seriesNumber: s + 1, instanceNumber: series.count - i });
        all.push({ study: study.uid, series: seriesUid, sop, bytes, modality: series.modality });
      }
    });
  }
  const { body, contentType } = multipartBody(all.map((item) => item.bytes));
  const stored = await app.inject({ method: 'POST', url: '/dicomweb/studies', headers: { 'content-type': contentType }, payload: body });
  expect(stored.statusCode).toBe(200);
  const get = async (url: string): Promise<Json[]> => {
    const response = await app.inject({ method: 'GET', url });
    expect(response.statusCode, url).toBe(200);
    return response.json() as Json[];
  };
  const uidsOf = (rows: Json[], key = '0020000D'): string[] => rows.map((row) => String(row[key]?.Value?.[0])).sort();

  expect(uidsOf(await get(`/dicomweb/studies?PatientID=${patients[0]}`))).toEqual([studies[0]?.uid, studies[1]?.uid].sort());
  expect(uidsOf(await get(`/dicomweb/studies?PatientID=P${tag}-*`))).toEqual(studies.map((s) => s.uid).sort());
  expect(uidsOf(await get(`/dicomweb/studies?PatientID=P${tag}-?`))).toEqual(studies.map((s) => s.uid).sort());
  expect(uidsOf(await get(`/dicomweb/studies?PatientName=smith*&PatientID=P${tag}-*`))).toEqual([studies[0]?.uid, studies[1]?.uid].sort());
  expect(uidsOf(await get(`/dicomweb/studies?PatientName=SMITH%5EANNA&PatientID=P${tag}-*`))).toEqual([studies[0]?.uid, studies[1]?.uid].sort());
  expect(uidsOf(await get(`/dicomweb/studies?StudyDate=20200101-20211231&PatientID=P${tag}-*`))).toEqual([studies[0]?.uid, studies[1]?.uid].sort());
  expect(uidsOf(await get(`/dicomweb/studies?StudyDate=20210101-&PatientID=P${tag}-*`))).toEqual([studies[1]?.uid, studies[2]?.uid].sort());
  expect(uidsOf(await get(`/dicomweb/studies?StudyDate=20220301&PatientID=P${tag}-*`))).toEqual([studies[2]?.uid]);
  expect(uidsOf(await get(`/dicomweb/studies?ModalitiesInStudy=MR&PatientID=P${tag}-*`))).toEqual([studies[1]?.uid]);
  expect(uidsOf(await get(`/dicomweb/studies?ModalitiesInStudy=SEG,MR&PatientID=P${tag}-*`))).toEqual([studies[0]?.uid, studies[1]?.uid].sort());
  expect(uidsOf(await get(`/dicomweb/studies?StudyInstanceUID=${studies[0]?.uid}\\${studies[2]?.uid}`))).toEqual([studies[0]?.uid, studies[2]?.uid].sort());
  // Attributes without their own column (matched in the stored JSON).
  expect(uidsOf(await get(`/dicomweb/studies?PatientID=P${tag}-*&PatientSex=M`))).toEqual([studies[2]?.uid]);
  expect(uidsOf(await get(`/dicomweb/studies?PatientID=P${tag}-*&00100040=F`))).toEqual([studies[0]?.uid, studies[1]?.uid].sort());
  expect((await get(`/dicomweb/series?PatientID=P${tag}-*&PatientSex=M&Modality=CT`)).length).toBe(1);
  expect(uidsOf(await get(`/dicomweb/studies?PatientID=${patients[1]}&00080050=ACC1`))).toEqual([studies[2]?.uid]);
  expect(await get(`/dicomweb/studies?PatientID=${patients[1]}&AccessionNumber=NOPE`)).toEqual([]);

  const first = (await get(`/dicomweb/studies?StudyInstanceUID=${studies[0]?.uid}`))[0];
  expect(first?.['00201206']?.Value?.[0]).toBe(2);
  expect(first?.['00201208']?.Value?.[0]).toBe(4);
  expect(first?.['00080061']?.Value).toEqual(['CT', 'SEG']);

  const series = await get(`/dicomweb/studies/${studies[0]?.uid}/series`);
  expect(series.map((row) => row['00080060']?.Value?.[0])).toEqual(['CT', 'SEG']);
  expect(series[0]?.['00201209']?.Value?.[0]).toBe(3);
  expect((await get(`/dicomweb/studies/${studies[0]?.uid}/series?Modality=SEG`)).length).toBe(1);
  expect((await get(`/dicomweb/series?Modality=CT&PatientID=P${tag}-*`)).length).toBe(2);
  const ctSeries = String(series[0]?.['0020000E']?.Value?.[0]);
  const instances = await get(`/dicomweb/studies/${studies[0]?.uid}/series/${ctSeries}/instances`);
  expect(instances.map((row) => row['00200013']?.Value?.[0])).toEqual([1, 2, 3]);
  expect((await get(`/dicomweb/studies/${studies[0]?.uid}/instances?InstanceNumber=2`)).length).toBe(1);
  const withAll = await get(`/dicomweb/studies/${studies[0]?.uid}/series/${ctSeries}/instances?includefield=all&limit=1`);
  expect(withAll[0]?.['00280004']?.Value?.[0]).toBe('MONOCHROME2');
  const paged = [...(await get(`/dicomweb/studies?PatientID=P${tag}-*&limit=2&offset=0`)), ...(await get(`/dicomweb/studies?PatientID=P${tag}-*&limit=2&offset=2`))];
  expect(uidsOf(paged)).toEqual(studies.map((s) => s.uid).sort());

  // WADO-RS from this backend: byte-identical, metadata per instance.
  const one = all[0] as (typeof all)[number];
  const retrieved = await app.inject({ method: 'GET', url: `/dicomweb/studies/${one.study}/series/${one.series}` });
  const parts = parseMultipartResponse(retrieved.rawPayload, String(retrieved.headers['content-type']));
  expect(parts.map((part) => part.data.toString('base64')).sort()).toEqual(all.filter((item) => item.series === one.series).map((item) => item.bytes.toString('base64')).sort());
  const metadata = await get(`/dicomweb/studies/${one.study}/metadata`);
  expect(metadata.length).toBe(4);

  // Idempotent re-store and delete.
  const again = await app.inject({ method: 'POST', url: `/dicomweb/studies/${one.study}`, headers: { 'content-type': contentType }, payload: body });
  // Instances of other studies posted to this study's URL fail (A900); its own are already there (idempotent).
  expect(again.statusCode).toBe(202);
  expect(((again.json() as Json)['00081199']?.Value ?? []).length).toBe(4);
  const same = multipartBody(all.filter((item) => item.study === one.study).map((item) => item.bytes));
  expect((await app.inject({ method: 'POST', url: `/dicomweb/studies/${one.study}`, headers: { 'content-type': same.contentType }, payload: same.body })).statusCode).toBe(200);
  expect((await get(`/dicomweb/studies/${one.study}/instances`)).length).toBe(4);
  expect((await app.inject({ method: 'DELETE', url: `/dicomweb/studies/${one.study}/series/${one.series}/instances/${one.sop}` })).statusCode).toBe(204);
  expect((await get(`/dicomweb/studies/${one.study}/instances`)).length).toBe(3);
  expect((await app.inject({ method: 'DELETE', url: `/dicomweb/studies/${one.study}` })).statusCode).toBe(204);
  expect(await get(`/dicomweb/studies?StudyInstanceUID=${one.study}`)).toEqual([]);
  expect(await get(`/dicomweb/series?StudyInstanceUID=${one.study}`)).toEqual([]);
  expect(uidsOf(await get(`/dicomweb/studies?PatientID=P${tag}-*`))).toEqual([studies[1]?.uid, studies[2]?.uid].sort());
}
