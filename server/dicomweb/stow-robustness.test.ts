import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerApp } from '../app.js';
import { multipartBody, parseMultipartResponse, testServer } from '../test-support/dicomweb-helpers.js';
import { corpusDir, requireCorpus } from '../test-support/requirements.js';
import { newUid, syntheticInstance } from '../test-support/synthetic-dicom.js';

type Json = Record<string, { vr: string; Value?: unknown[] } | undefined>;

const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

function instance(patientID = 'ROBUST-1'): { bytes: Buffer; study: string; series: string; sop: string } {
  const study = newUid();
  const series = newUid();
  const sop = newUid();
  return { bytes: syntheticInstance({ study, series, sop, patientID }), study, series, sop };
}

function failures(response: { json: () => unknown }): number[] {
  const items = ((response.json() as Json)['00081198']?.Value ?? []) as Json[];
  return items.map((item) => Number(item['00081197']?.Value?.[0]));
}
function referencedCount(response: { json: () => unknown }): number {
  return ((response.json() as Json)['00081199']?.Value ?? []).length;
}

describe('STOW-RS bad input: per-instance failure reasons, the server keeps serving', () => {
  let app: ServerApp;
  let dataDir: string;

  beforeAll(async () => {
    ({ app, dataDir } = await testServer());
  });
  afterAll(async () => {
    await app.close();
  });

  const post = async (payload: Buffer, contentType: string, url = '/dicomweb/studies') =>
    app.inject({ method: 'POST', url, headers: { 'content-type': contentType, accept: 'application/dicom+json' }, payload });

  it.skipIf(!requireCorpus())('rejects each malformed corpus file with a reason while storing its good neighbour', async () => {
    const names = readdirSync(join(corpusDir, 'malformed')).filter((name) => name.endsWith('.dcm'));
    const mustFail = [
      'gen_zero_bytes.dcm',
      'gen_random_bytes.dcm',
      'gen_preamble_only.dcm',
      'gen_dicm_then_garbage.dcm',
      'gen_element_length_past_eof.dcm',
      'gen_pixeldata_length_past_eof.dcm',
      'gen_truncated_in_sequence.dcm',
      'gen_truncated_mid_pixeldata.dcm',
      'orthanc_2026-05-06-Deeply-Nested-Sequence.dcm',
      'pydicom_MR_truncated.dcm',
      'pydicom_meta_missing_tsyntax.dcm',
      'pydicom_no_meta.dcm',
    ];
    for (const name of names) {
      const good = instance();
      const bad = readFileSync(join(corpusDir, 'malformed', name));
      const { body, contentType } = multipartBody([bad, good.bytes]);
      const response = await post(body, contentType);
      expect([200, 202], name).toContain(response.statusCode);
      expect(referencedCount(response) + failures(response).length, name).toBe(2);
      if (mustFail.includes(name)) {
        expect(response.statusCode, name).toBe(202);
        expect(failures(response), name).toEqual([0xc000]);
        expect(String(response.headers.warning), name).toMatch(/part 1: /);
      }
      const found = (await app.inject({ method: 'GET', url: `/dicomweb/studies?StudyInstanceUID=${good.study}` })).json() as Json[];
      expect(found.length, name).toBe(1);
    }
  });

  it('fails an instance without SOP UIDs (C000) and a part that is not application/dicom', async () => {
    const good = instance();
    const noUid = syntheticInstance({ study: newUid(), series: newUid(), sop: '', patientID: 'X' });
    const { body, contentType } = multipartBody([noUid, Buffer.from('hello'), good.bytes], {
      partHeaders: ['Content-Type: application/dicom', 'Content-Type: text/plain', 'Content-Type: application/dicom'],
    });
    const response = await post(body, contentType);
    expect(response.statusCode).toBe(202);
    expect(failures(response)).toEqual([0xc000, 0xc000]);
    expect(String(response.headers.warning)).toContain('SOP Class or SOP Instance UID is missing');
    expect(String(response.headers.warning)).toContain('text/plain');
  });

  it('keeps the complete parts of a truncated body and fails the cut one', async () => {
    const first = instance();
    const second = instance();
    const { body, contentType } = multipartBody([first.bytes, second.bytes]);
    const cut = body.subarray(0, body.length - 300);
    const response = await post(cut, contentType);
    expect(response.statusCode).toBe(202);
    expect(referencedCount(response)).toBe(1);
    expect(failures(response)).toEqual([0xc000]);
    const stored = (await app.inject({ method: 'GET', url: `/dicomweb/studies?StudyInstanceUID=${first.study},${second.study}` })).json() as Json[];
    expect(stored.map((item) => item['0020000D']?.Value?.[0])).toEqual([first.study]);
  });

  it('answers huge part headers, a wrong boundary and wrong media types without storing garbage', async () => {
    const first = instance();
    const second = instance();
    const huge = `Content-Type: application/dicom\r\nX-Padding: ${'a'.repeat(64 * 1024)}`;
    const big = multipartBody([first.bytes, second.bytes], { partHeaders: ['Content-Type: application/dicom', huge] });
    const response = await post(big.body, big.contentType);
    expect(response.statusCode).toBe(202);
    expect(referencedCount(response)).toBe(1);
    expect(String(response.headers.warning)).toContain('headers of a part are too large');

    const other = multipartBody([instance().bytes]);
    const wrong = await post(other.body, 'multipart/related; type="application/dicom"; boundary=not-the-one');
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json()).toMatchObject({ error: { code: 'INVALID_INPUT', details: [{ path: 'body' }] } });
    expect((await post(other.body, 'multipart/related; type="application/dicom"')).statusCode).toBe(400);
    expect((await post(other.body, `multipart/related; type="application/dicom+json"; boundary=${other.boundary}`)).statusCode).toBe(415);
    expect((await post(Buffer.from('{}'), 'application/json')).statusCode).toBe(415);
    // Unquoted type and no type at all are both accepted.
    const unquoted = multipartBody([instance().bytes]);
    expect((await post(unquoted.body, `multipart/related; type=application/dicom; boundary=${unquoted.boundary}`)).statusCode).toBe(200);
    const untyped = multipartBody([instance().bytes]);
    expect((await post(untyped.body, `multipart/related; boundary="${untyped.boundary}"`)).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('fails a part whose Content-Length is wrong instead of storing shifted bytes', async () => {
    const first = instance();
    const second = instance();
    const lying = multipartBody([first.bytes, second.bytes], {
      partHeaders: [`Content-Type: application/dicom\r\nContent-Length: ${first.bytes.length}`, `Content-Type: application/dicom\r\nContent-Length: ${second.bytes.length - 10}`],
    });
    const response = await post(lying.body, lying.contentType);
    expect(response.statusCode).toBe(202);
    expect(referencedCount(response)).toBe(1);
    expect(String(response.headers.warning)).toContain('Content-Length');
  });

  it('refuses an instance whose DICOM header is larger than allowed (64 MB of text before the pixel data)', async () => {
    const good = instance();
    const head = good.bytes.subarray(0, 132 + good.bytes.readUInt32LE(140) + 12);
    const text = Buffer.alloc(70 * 1024 * 1024, 0x41);
    const element = Buffer.alloc(12);
    element.writeUInt16LE(0x0020, 0);
    element.writeUInt16LE(0x4000, 2); // ImageComments, UT-like long text in a private-free tag
    element.write('UT', 4, 'latin1');
    element.writeUInt32LE(text.length, 8);
    const huge = Buffer.concat([head, element, text]);
    const { body, contentType } = multipartBody([huge, good.bytes]);
    const response = await post(body, contentType);
    expect(response.statusCode).toBe(202);
    expect(String(response.headers.warning)).toContain('header is larger than allowed');
  });

  it('leaves no blob behind for failed or repeated instances', async () => {
    const blobs = readdirSync(join(dataDir, 'blobs'), { recursive: true }).filter((name) => /[0-9a-f]{32}$/.test(String(name)));
    const instances = (await app.inject({ method: 'GET', url: '/dicomweb/instances?limit=100000' })).json() as Json[];
    expect(blobs.length).toBe(instances.length);
  });
});

describe('STOW-RS over real HTTP', () => {
  let app: ServerApp;
  let base: string;
  let token = '';

  beforeAll(async () => {
    ({ app, token } = await testServer());
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app.close();
  });

  it.each([
    ['with', true],
    ['without', false],
  ])('accepts a chunked body written in odd pieces, parts %s Content-Length, and returns the bytes over HTTP', async (_label, withLength) => {
    const items = Array.from({ length: 6 }, () => instance('HTTP-1'));
    const { body, contentType } = multipartBody(
      items.map((item) => item.bytes),
      withLength ? {} : { partHeaders: items.map(() => 'Content-Type: application/dicom') },
    );
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(`${base}/dicomweb/studies`, { method: 'POST', headers: { 'content-type': contentType, accept: 'application/dicom+json', 'transfer-encoding': 'chunked', authorization: `Bearer ${token}` } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      // Pieces that split delimiters and headers at awkward places.
      let offset = 0;
      const sizes = [1, 2, 3, 5, 7, 11, 13, 17, 4093, 65537];
      for (let i = 0; offset < body.length; i += 1) {
        const size = sizes[i % sizes.length] ?? 1;
        req.write(body.subarray(offset, offset + size));
        offset += size;
      }
      req.end();
    });
    expect(answer.status).toBe(200);
    expect((JSON.parse(answer.text) as Json)['00081199']?.Value?.length).toBe(6);
    for (const item of items) {
      const response = await fetch(`${base}/dicomweb/studies/${item.study}/series/${item.series}/instances/${item.sop}`, {
        headers: { accept: 'multipart/related; type="application/dicom"', authorization: `Bearer ${token}` },
      });
      expect(response.status).toBe(200);
      const parts = parseMultipartResponse(Buffer.from(await response.arrayBuffer()), response.headers.get('content-type') ?? '');
      expect(sha(parts[0]?.data ?? Buffer.alloc(0))).toBe(sha(item.bytes));
    }
    const cors = await fetch(`${base}/dicomweb/studies`, { method: 'OPTIONS', headers: { origin: 'http://viewer.example', 'access-control-request-method': 'GET' } });
    expect(cors.status).toBe(204);
  });
});

describe('CORS when configured', () => {
  it('answers preflight and exposes headers to an allowed origin only', async () => {
    const { app } = await testServer({ PARADIM_CORS_ORIGINS: 'http://viewer.example' });
    const preflight = await app.inject({ method: 'OPTIONS', url: '/dicomweb/studies', headers: { origin: 'http://viewer.example', 'access-control-request-method': 'GET' } });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('http://viewer.example');
    expect(String(preflight.headers['access-control-allow-headers'])).toContain('Authorization');
    const allowed = await app.inject({ method: 'GET', url: '/dicomweb/studies', headers: { origin: 'http://viewer.example' } });
    expect(allowed.headers['access-control-allow-origin']).toBe('http://viewer.example');
    expect(String(allowed.headers['access-control-expose-headers'])).toContain('Warning');
    const refused = await app.inject({ method: 'GET', url: '/dicomweb/studies', headers: { origin: 'http://evil.example' } });
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();
    await app.close();
  });
});
