import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
// @ts-expect-error -- dcmjs ships no type declarations; it is the independent oracle of these tests.
import * as dcmjsModule from 'dcmjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerApp } from '../app.js';
import { corpusDir, requireCorpus } from '../test-support/requirements.js';
import { multipartBody, parseMultipartResponse, testServer, auditCounts } from '../test-support/dicomweb-helpers.js';
import { auditPaths } from '../audit/audit-log.js';
import { verifyAuditTrail } from '../audit/audit-verify.js';

interface OracleElement {
  vr: string;
  Value?: unknown[];
}
interface Oracle {
  dict: Record<string, OracleElement | undefined>;
}
const dcmjs = dcmjsModule as { data: { DicomMessage: { readFile: (buffer: ArrayBuffer, options?: object) => Oracle } } };

type Json = Record<string, { vr: string; Value?: unknown[]; BulkDataURI?: string; InlineBinary?: string } | undefined>;

const haveCorpus = requireCorpus();

interface CorpusFile {
  path: string;
  bytes: Buffer;
  transferSyntax: string;
  oracle: Oracle | undefined;
  sop?: string;
  study?: string;
  series?: string;
}

function oracleOf(bytes: Buffer): Oracle | undefined {
  const quiet = console.log;
  const warn = console.warn;
  const error = console.error;
  try {
    console.log = () => undefined;
    console.warn = () => undefined;
    console.error = () => undefined;
    return dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer);
  } catch {
    return undefined;
  } finally {
    console.log = quiet;
    console.warn = warn;
    console.error = error;
  }
}

function str(oracle: Oracle | undefined, tag: string): string | undefined {
  const value = oracle?.dict[tag]?.Value?.[0];
  return typeof value === 'string' ? value.replace(/\0/g, '').trim() : undefined;
}

function loadCorpus(): CorpusFile[] {
  const lines = readFileSync(join(corpusDir, 'MANIFEST.tsv'), 'utf8').trim().split('\n').slice(1);
  return lines
    .map((line) => line.split('\t'))
    .filter((cols) => !(cols[0] ?? '').startsWith('malformed/'))
    .map((cols) => {
      const bytes = readFileSync(join(corpusDir, cols[0] ?? ''));
      const oracle = oracleOf(bytes);
      const file: CorpusFile = { path: cols[0] ?? '', bytes, transferSyntax: cols[4] ?? '', oracle };
      const sop = str(oracle, '00080018');
      const study = str(oracle, '0020000D');
      const series = str(oracle, '0020000E');
      if (sop !== undefined) file.sop = sop;
      if (study !== undefined) file.study = study;
      if (series !== undefined) file.series = series;
      return file;
    });
}

const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const hasPreamble = (bytes: Buffer): boolean => bytes.length > 132 && bytes.toString('latin1', 128, 132) === 'DICM';

describe.skipIf(!haveCorpus)('DICOMweb conformance over the shared corpus (all transfer syntaxes)', () => {
  let app: ServerApp;
  let dataDir: string;
  let files: CorpusFile[] = [];
  /** The file whose bytes the server keeps for each SOP Instance UID (the first one stored). */
  const kept = new Map<string, CorpusFile>();
  const stowStatus = new Map<string, number>();
  const stored: { path: string; sop: string; oracleSop: string | undefined }[] = [];

  beforeAll(async () => {
    ({ app, dataDir } = await testServer());
    files = loadCorpus();
    for (const file of files) {
      const { body, contentType } = multipartBody([file.bytes]);
      const response = await app.inject({ method: 'POST', url: '/dicomweb/studies', headers: { 'content-type': contentType, accept: 'application/dicom+json' }, payload: body });
      stowStatus.set(file.path, response.statusCode);
      const referenced = (response.json() as Json)['00081199']?.Value as Json[] | undefined;
      const url = referenced?.[0]?.['00081190']?.Value?.[0];
      if (response.statusCode !== 200 || typeof url !== 'string') continue;
      // The server's UIDs, from its RetrieveURL; where dcmjs reads the file too, they must agree.
      const match = /\/studies\/([0-9.]+)\/series\/([0-9.]+)\/instances\/([0-9.]+)$/.exec(url);
      stored.push({ path: file.path, sop: match?.[3] ?? '', oracleSop: file.sop });
      if (match !== null) {
        file.study = match[1] as string;
        file.series = match[2] as string;
        file.sop = match[3] as string;
      }
      if (file.sop !== undefined && !kept.has(file.sop)) kept.set(file.sop, file);
    }
  }, 120_000);

  afterAll(async () => {
    await app.close();
  });

  it('stores every well-formed Part-10 file with its UIDs, in every transfer syntax of the corpus', () => {
    const expected = files.filter((file) => hasPreamble(file.bytes) && file.sop !== undefined && file.study !== undefined && file.series !== undefined && file.oracle !== undefined);
    expect(expected.length).toBeGreaterThan(350);
    for (const entry of stored) if (entry.oracleSop !== undefined) expect(entry.sop, entry.path).toBe(entry.oracleSop);
    const notStored = expected.filter((file) => stowStatus.get(file.path) !== 200).map((file) => `${file.path}: ${stowStatus.get(file.path)}`);
    expect(notStored).toEqual([]);
    const syntaxes = new Set(expected.map((file) => file.transferSyntax));
    for (const syntax of ['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2', '1.2.840.10008.1.2.1.99', '1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.70', '1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.51', '1.2.840.10008.1.2.4.57', '1.2.840.10008.1.2.4.81', '1.2.840.10008.1.2.4.91', '1.2.840.10008.1.2.5']) {
      expect(syntaxes.has(syntax), syntax).toBe(true);
    }
  });

  it('refuses files without a Part-10 header or without UIDs with 409 and a failure reason', () => {
    const refused = files.filter((file) => !hasPreamble(file.bytes) || (file.oracle !== undefined && (file.sop === undefined || file.study === undefined)));
    expect(refused.length).toBeGreaterThan(0);
    for (const file of refused) expect(stowStatus.get(file.path), file.path).toBe(409);
  });

  it('returns every stored instance byte-identical (WADO-RS instance, multipart/related application/dicom)', async () => {
    for (const file of kept.values()) {
      const url = `/dicomweb/studies/${file.study}/series/${file.series}/instances/${file.sop}`;
      const response = await app.inject({ method: 'GET', url, headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
      expect(response.statusCode, file.path).toBe(200);
      const parts = parseMultipartResponse(response.rawPayload, String(response.headers['content-type']));
      expect(parts.length).toBe(1);
      expect(sha(parts[0]?.data ?? Buffer.alloc(0)), file.path).toBe(sha(file.bytes));
      expect(parts[0]?.headers['content-type']).toContain(`transfer-syntax=${file.transferSyntax}`);
    }
  });

  it('retrieves whole studies and series with every instance once', async () => {
    const studies = new Map<string, CorpusFile[]>();
    for (const file of kept.values()) studies.set(file.study ?? '', [...(studies.get(file.study ?? '') ?? []), file]);
    let checked = 0;
    for (const [study, members] of studies) {
      const response = await app.inject({ method: 'GET', url: `/dicomweb/studies/${study}` });
      expect(response.statusCode).toBe(200);
      const parts = parseMultipartResponse(response.rawPayload, String(response.headers['content-type']));
      expect(parts.map((part) => sha(part.data)).sort()).toEqual(members.map((file) => sha(file.bytes)).sort());
      checked += 1;
      if (checked > 40) break;
    }
  });

  it('answers metadata with the values of the instance and resolvable BulkDataURIs', async () => {
    let bulkChecked = 0;
    for (const file of kept.values()) {
      const url = `/dicomweb/studies/${file.study}/series/${file.series}/instances/${file.sop}/metadata`;
      const response = await app.inject({ method: 'GET', url, headers: { accept: 'application/dicom+json' } });
      expect(response.statusCode, file.path).toBe(200);
      const [json] = response.json() as Json[];
      expect(json?.['00080018']?.Value?.[0]).toBe(file.sop);
      expect(json?.['00083002']?.Value?.[0]).toBe(file.transferSyntax);
      for (const tag of ['00100020', '00080060', '00080020', '00200013']) {
        const expected = file.oracle?.dict[tag]?.Value?.[0];
        if (typeof expected === 'string' && expected.trim() !== '') expect(String(json?.[tag]?.Value?.[0]), `${file.path} ${tag}`).toBe(expected.trim());
      }
      for (const tag of ['00280010', '00280011']) {
        const expected = file.oracle?.dict[tag]?.Value?.[0];
        if (typeof expected === 'number') expect(json?.[tag]?.Value?.[0], `${file.path} ${tag}`).toBe(expected);
      }
      if (json?.['7FE00010'] !== undefined) expect(json['7FE00010'].BulkDataURI, file.path).toMatch(/^http:\/\/[^/]+\/dicomweb\/studies\/.+\/bulkdata\/7fe00010$/);
      for (const [tag, element] of Object.entries(json ?? {})) {
        if (element?.BulkDataURI === undefined || tag === '7FE00010' || bulkChecked > 30) continue;
        const path = new URL(element.BulkDataURI).pathname;
        const bulk = await app.inject({ method: 'GET', url: path, headers: { accept: 'application/octet-stream' } });
        expect(bulk.statusCode, `${file.path} ${tag}`).toBe(200);
        const expected = file.oracle?.dict[tag]?.Value?.[0];
        if (expected instanceof ArrayBuffer && file.transferSyntax !== '1.2.840.10008.1.2.2') expect(sha(bulk.rawPayload)).toBe(sha(Buffer.from(expected)));
        bulkChecked += 1;
      }
    }
    expect(bulkChecked).toBeGreaterThan(0);
  });

  it('returns frames as stored, identical to an independent parser, in the syntax named in each part', async () => {
    let native = 0;
    let encapsulated = 0;
    for (const file of kept.values()) {
      const pixel = file.oracle?.dict['7FE00010'];
      const frames = pixel?.Value as ArrayBuffer[] | undefined;
      if (frames === undefined || frames.length === 0 || !(frames[0] instanceof ArrayBuffer)) continue;
      const numberOfFrames = Number(file.oracle?.dict['00280008']?.Value?.[0] ?? 1);
      const base = `/dicomweb/studies/${file.study}/series/${file.series}/instances/${file.sop}`;
      const isNative = ['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.1.99', '1.2.840.10008.1.2.2'].includes(file.transferSyntax);
      const response = await app.inject({ method: 'GET', url: `${base}/frames/1`, headers: { accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' } });
      if (response.statusCode === 404) continue; // Frames this server cannot locate (e.g. bit-packed multi-frame) are reported missing.
      expect(response.statusCode, file.path).toBe(200);
      const [part] = parseMultipartResponse(response.rawPayload, String(response.headers['content-type']));
      if (isNative) {
        const rows = Number(file.oracle?.dict['00280010']?.Value?.[0]);
        const columns = Number(file.oracle?.dict['00280011']?.Value?.[0]);
        const samples = Number(file.oracle?.dict['00280002']?.Value?.[0] ?? 1);
        const bits = Number(file.oracle?.dict['00280100']?.Value?.[0]);
        const size = Math.ceil((rows * columns * samples * bits) / 8);
        const expected = Buffer.from(frames[0]).subarray(0, size);
        if (file.transferSyntax !== '1.2.840.10008.1.2.2') {
          expect(sha(part?.data ?? Buffer.alloc(0)), file.path).toBe(sha(expected));
          native += 1;
        }
        expect(part?.headers['content-type']).toBe(`application/octet-stream; transfer-syntax=${file.transferSyntax === '1.2.840.10008.1.2.2' ? '1.2.840.10008.1.2.2' : '1.2.840.10008.1.2.1'}`);
      } else if (frames.length === numberOfFrames) {
        expect(sha(part?.data ?? Buffer.alloc(0)), file.path).toBe(sha(Buffer.from(frames[0])));
        expect(part?.headers['content-type']).toBe(`application/octet-stream; transfer-syntax=${file.transferSyntax}`);
        encapsulated += 1;
      }
    }
    expect(native).toBeGreaterThan(20);
    expect(encapsulated).toBeGreaterThan(20);
  });

  it('serves several frames in one answer and honours an uncompressed syntax for uncompressed data', async () => {
    // A fresh server: the little- and big-endian twins share their SOP Instance UID.
    const own = await testServer();
    const app = own.app;
    const pick = async (name: string): Promise<CorpusFile> => {
      const file = files.find((candidate) => candidate.path.endsWith(name)) as CorpusFile;
      const { body, contentType } = multipartBody([file.bytes]);
      const response = await app.inject({ method: 'POST', url: '/dicomweb/studies', headers: { 'content-type': contentType }, payload: body });
      expect(response.statusCode).toBe(200);
      return file;
    };
    const multi = await pick('pydicom_SC_rgb_rle_2frame.dcm');
    const bigEndian = await pick('pydicom_MR_small_bigendian.dcm');
    const littleEndian = { ...bigEndian, sop: '' };
    const reference = await app.inject({ method: 'GET', url: `/dicomweb/studies/${bigEndian.study}/series/${bigEndian.series}/instances/${bigEndian.sop}/frames/1` });
    expect(parseMultipartResponse(reference.rawPayload, String(reference.headers['content-type']))[0]?.headers['content-type']).toBe(
      'application/octet-stream; transfer-syntax=1.2.840.10008.1.2.2',
    );
    const littleFile = files.find((candidate) => candidate.path.endsWith('pydicom_MR_small.dcm')) as CorpusFile;
    void littleEndian;
    const frames = await app.inject({ method: 'GET', url: `/dicomweb/studies/${multi.study}/series/${multi.series}/instances/${multi.sop}/frames/1,2`, headers: { accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' } });
    expect(parseMultipartResponse(frames.rawPayload, String(frames.headers['content-type'])).length).toBe(2);
    // RLE cannot be served as explicit VR little endian: 406.
    const refused = await app.inject({ method: 'GET', url: `/dicomweb/studies/${multi.study}/series/${multi.series}/instances/${multi.sop}/frames/1`, headers: { accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.1' } });
    expect(refused.statusCode).toBe(406);
    expect(refused.json()).toMatchObject({ error: { code: 'NOT_ACCEPTABLE' } });
    // Big endian pixel data asked as explicit little endian: byte-swapped to equal the little-endian twin.
    const swapped = await app.inject({ method: 'GET', url: `/dicomweb/studies/${bigEndian.study}/series/${bigEndian.series}/instances/${bigEndian.sop}/frames/1`, headers: { accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.1' } });
    const [a] = parseMultipartResponse(swapped.rawPayload, String(swapped.headers['content-type']));
    const littlePixels = littleFile.oracle?.dict['7FE00010']?.Value?.[0] as ArrayBuffer;
    expect(a?.headers['content-type']).toBe('application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1');
    expect(sha(a?.data ?? Buffer.alloc(0))).toBe(sha(Buffer.from(littlePixels)));
    const missingFrame = await app.inject({ method: 'GET', url: `/dicomweb/studies/${multi.study}/series/${multi.series}/instances/${multi.sop}/frames/3` });
    expect(missingFrame.statusCode).toBe(404);
    await app.close();
  });

  it('answers QIDO-RS at every level with matching, computed attributes and paging', async () => {
    const ct = [...kept.values()].filter((file) => file.path.startsWith('ct-series/midrc-ricord-1a-chest-ct/'));
    expect(ct.length).toBeGreaterThan(10);
    const first = ct[0] as CorpusFile;
    const patientID = str(first.oracle, '00100020') ?? '';
    const studyDate = str(first.oracle, '00080020') ?? '';
    const byPatient = (await app.inject({ method: 'GET', url: `/dicomweb/studies?PatientID=${encodeURIComponent(patientID)}` })).json() as Json[];
    expect(byPatient.map((study) => study['0020000D']?.Value?.[0])).toContain(first.study);
    const study = byPatient.find((item) => item['0020000D']?.Value?.[0] === first.study);
    const inStudy = [...kept.values()].filter((file) => file.study === first.study);
    expect(study?.['00201208']?.Value?.[0]).toBe(inStudy.length);
    expect(study?.['00201206']?.Value?.[0]).toBe(new Set(inStudy.map((file) => file.series)).size);
    expect(study?.['00080061']?.Value).toContain('CT');
    expect(study?.['00081190']?.Value?.[0]).toMatch(new RegExp(`/dicomweb/studies/${first.study?.replace(/\./g, '\\.')}$`));

    // Date range, tag form, wildcards, UID lists, ModalitiesInStudy.
    const year = studyDate.slice(0, 4);
    const ranged = (await app.inject({ method: 'GET', url: `/dicomweb/studies?00080020=${year}0101-${year}1231` })).json() as Json[];
    expect(ranged.map((item) => item['0020000D']?.Value?.[0])).toContain(first.study);
    const outside = (await app.inject({ method: 'GET', url: `/dicomweb/studies?StudyDate=-18000101&PatientID=${encodeURIComponent(patientID)}` })).json() as Json[];
    expect(outside).toEqual([]);
    const wildcard = (await app.inject({ method: 'GET', url: `/dicomweb/studies?PatientID=${encodeURIComponent(patientID.slice(0, 3))}*` })).json() as Json[];
    expect(wildcard.map((item) => item['0020000D']?.Value?.[0])).toContain(first.study);
    const other = [...kept.values()].find((file) => file.study !== first.study);
    const list = (await app.inject({ method: 'GET', url: `/dicomweb/studies?StudyInstanceUID=${first.study},${other?.study}` })).json() as Json[];
    expect(list.map((item) => item['0020000D']?.Value?.[0]).sort()).toEqual([first.study, other?.study].sort());
    const modalities = (await app.inject({ method: 'GET', url: '/dicomweb/studies?ModalitiesInStudy=SEG' })).json() as Json[];
    expect(modalities.length).toBeGreaterThan(0);
    for (const item of modalities) expect(item['00080061']?.Value).toContain('SEG');
    const none = (await app.inject({ method: 'GET', url: '/dicomweb/studies?ModalitiesInStudy=XX' })).json() as Json[];
    expect(none).toEqual([]);
    const byName = (await app.inject({ method: 'GET', url: '/dicomweb/studies?PatientName=*&includefield=PatientName&fuzzymatching=true' })).statusCode;
    expect(byName).toBe(200);

    // Series of a study, instances of a series, nested and top-level forms.
    const series = (await app.inject({ method: 'GET', url: `/dicomweb/studies/${first.study}/series` })).json() as Json[];
    const ctSeries = series.find((item) => item['0020000E']?.Value?.[0] === first.series);
    expect(ctSeries?.['00080060']?.Value?.[0]).toBe('CT');
    expect(ctSeries?.['00201209']?.Value?.[0]).toBe(ct.filter((file) => file.series === first.series).length);
    const topSeries = (await app.inject({ method: 'GET', url: `/dicomweb/series?SeriesInstanceUID=${first.series}` })).json() as Json[];
    expect(topSeries.length).toBe(1);
    expect(topSeries[0]?.['00100020']?.Value?.[0]).toBe(patientID);
    const instances = (await app.inject({ method: 'GET', url: `/dicomweb/studies/${first.study}/series/${first.series}/instances` })).json() as Json[];
    expect(instances.length).toBe(ct.filter((file) => file.series === first.series).length);
    expect(instances[0]?.['00080016']?.Value?.[0]).toBe('1.2.840.10008.5.1.4.1.1.2');
    const studyInstances = (await app.inject({ method: 'GET', url: `/dicomweb/studies/${first.study}/instances?SOPInstanceUID=${first.sop}` })).json() as Json[];
    expect(studyInstances.length).toBe(1);
    const topInstances = (await app.inject({ method: 'GET', url: `/dicomweb/instances?SOPInstanceUID=${first.sop}&includefield=00280030` })).json() as Json[];
    expect(topInstances[0]?.['00280030']?.Value?.length).toBe(2);
    const all = (await app.inject({ method: 'GET', url: `/dicomweb/instances?SOPInstanceUID=${first.sop}&includefield=all` })).json() as Json[];
    expect(Object.keys(all[0] ?? {}).length).toBeGreaterThan(30);
    expect(all[0]?.['7FE00010']).toBeUndefined();

    // Paging: limit/offset walk the same ordered result.
    const everything = (await app.inject({ method: 'GET', url: '/dicomweb/studies' })).json() as Json[];
    const page1 = (await app.inject({ method: 'GET', url: '/dicomweb/studies?limit=3&offset=0' })).json() as Json[];
    const page2 = (await app.inject({ method: 'GET', url: '/dicomweb/studies?limit=3&offset=3' })).json() as Json[];
    expect([...page1, ...page2].map((item) => item['0020000D']?.Value?.[0])).toEqual(everything.slice(0, 6).map((item) => item['0020000D']?.Value?.[0]));
    expect(new Set(everything.map((item) => item['0020000D']?.Value?.[0])).size).toBe(new Set([...kept.values()].map((file) => file.study)).size);

    // Bad query keys are named.
    const bad = await app.inject({ method: 'GET', url: '/dicomweb/studies?NotAKeyword=1' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { details: [{ path: 'NotAKeyword' }] } });
  });

  it('negotiates Accept (406), answers ETags with 304, CORS off unless configured', async () => {
    const file = kept.values().next().value as CorpusFile;
    const url = `/dicomweb/studies/${file.study}/series/${file.series}/instances/${file.sop}`;
    expect((await app.inject({ method: 'GET', url, headers: { accept: 'application/zip' } })).statusCode).toBe(406);
    expect((await app.inject({ method: 'GET', url, headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=1.2.3.4' } })).statusCode).toBe(406);
    expect((await app.inject({ method: 'GET', url, headers: { accept: 'multipart/related; type=application/dicom' } })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/dicomweb/studies', headers: { accept: 'application/dicom+xml' } })).statusCode).toBe(406);
    expect((await app.inject({ method: 'GET', url: `${url}/metadata`, headers: { accept: 'multipart/related; type="application/dicom"' } })).statusCode).toBe(406);
    const first = await app.inject({ method: 'GET', url: `${url}/metadata` });
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^".+"$/);
    expect((await app.inject({ method: 'GET', url: `${url}/metadata`, headers: { 'if-none-match': etag } })).statusCode).toBe(304);
    const again = await app.inject({ method: 'GET', url, headers: { 'if-none-match': etag } });
    expect(again.statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url, headers: { 'if-none-match': String(again.headers.etag) } })).statusCode).toBe(304);
    const cors = await app.inject({ method: 'GET', url: '/dicomweb/studies', headers: { origin: 'http://viewer.example' } });
    expect(cors.headers['access-control-allow-origin']).toBeUndefined();
    expect((await app.inject({ method: 'GET', url: '/dicomweb/studies/1.2.3/series/4.5/instances/6.7' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/dicomweb/studies/not-a-uid' })).statusCode).toBe(400);
  });

  it('renders thumbnails of uncompressed and baseline JPEG images', async () => {
    const ctSmall = [...kept.values()].find((file) => file.path.startsWith('ct-series/dcmqi-ct-3slice/'));
    const jpeg = [...kept.values()].find((file) => file.transferSyntax === '1.2.840.10008.1.2.4.50');
    const png = await app.inject({ method: 'GET', url: `/dicomweb/studies/${ctSmall?.study}/series/${ctSmall?.series}/instances/${ctSmall?.sop}/rendered`, headers: { accept: 'image/png' } });
    expect(png.statusCode).toBe(200);
    expect(png.rawPayload.subarray(1, 4).toString()).toBe('PNG');
    const jpg = await app.inject({ method: 'GET', url: `/dicomweb/studies/${jpeg?.study}/series/${jpeg?.series}/instances/${jpeg?.sop}/thumbnail`, headers: { accept: 'image/jpeg' } });
    expect(jpg.statusCode).toBe(200);
    expect(jpg.rawPayload.readUInt16BE(0)).toBe(0xffd8);
  });

  it('stores the same instance again idempotently and refuses a UID reused in another study', async () => {
    const file = kept.values().next().value as CorpusFile;
    const { body, contentType } = multipartBody([file.bytes, file.bytes]);
    const again = await app.inject({ method: 'POST', url: '/dicomweb/studies', headers: { 'content-type': contentType }, payload: body });
    expect(again.statusCode).toBe(200);
    expect((again.json() as Json)['00081199']?.Value?.length).toBe(2);
    const count = (await app.inject({ method: 'GET', url: `/dicomweb/instances?SOPInstanceUID=${file.sop}` })).json() as Json[];
    expect(count.length).toBe(1);
    // Posting to a study URL that is not the instance's own study: A900.
    const wrong = await app.inject({ method: 'POST', url: '/dicomweb/studies/1.2.3.4.5', headers: { 'content-type': contentType }, payload: body });
    expect(wrong.statusCode).toBe(409);
    expect((wrong.json() as Json)['00081198']?.Value?.[0]).toMatchObject({ '00081197': { vr: 'US', Value: [0xa900] } });
    const blobs = readdirSync(join(dataDir, 'blobs'), { recursive: true }).filter((name) => /[0-9a-f]{32}$/.test(String(name)));
    expect(blobs.length).toBe(kept.size);
  });

  it('deletes an instance, a series and a study from index and storage', async () => {
    const ct = [...kept.values()].filter((file) => file.path.startsWith('ct-series/dcmqi-ct-3slice/'));
    const [one, ...rest] = ct;
    expect(one && rest.length > 0).toBeTruthy();
    if (!one) return;
    const instanceUrl = `/dicomweb/studies/${one.study}/series/${one.series}/instances/${one.sop}`;
    expect((await app.inject({ method: 'DELETE', url: instanceUrl })).statusCode).toBe(204);
    expect((await app.inject({ method: 'GET', url: instanceUrl })).statusCode).toBe(404);
    expect((await app.inject({ method: 'DELETE', url: instanceUrl })).statusCode).toBe(404);
    const remaining = (await app.inject({ method: 'GET', url: `/dicomweb/studies/${one.study}/series/${one.series}/instances` })).json() as Json[];
    expect(remaining.length).toBe(rest.filter((file) => file.series === one.series).length);
    expect((await app.inject({ method: 'DELETE', url: `/dicomweb/studies/${one.study}/series/${one.series}` })).statusCode).toBe(204);
    expect((await app.inject({ method: 'GET', url: `/dicomweb/studies/${one.study}/series/${one.series}/metadata` })).statusCode).toBe(404);
    expect((await app.inject({ method: 'DELETE', url: `/dicomweb/studies/${one.study}` })).statusCode).toBe(204);
    expect((await app.inject({ method: 'GET', url: `/dicomweb/studies?StudyInstanceUID=${one.study}` })).json()).toEqual([]);
    const gone = new Set([...kept.values()].filter((file) => file.study === one.study).map((file) => file.sop));
    const blobs = readdirSync(join(dataDir, 'blobs'), { recursive: true }).filter((name) => /[0-9a-f]{32}$/.test(String(name)));
    expect(blobs.length).toBe(kept.size - gone.size);
  });

  it('wrote exactly one audit entry for every request of this suite, and the trail verifies', async () => {
    const { requests, entries } = await auditCounts(app);
    expect(requests).toBeGreaterThan(100);
    expect(entries).toBe(requests);
    const verification = await verifyAuditTrail(auditPaths(dataDir));
    expect(verification.ok, verification.problems.join('\n')).toBe(true);
  });
});
