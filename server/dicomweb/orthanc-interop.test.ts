import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerApp } from '../app.js';
import { parseMultipartResponse, testServer } from '../test-support/dicomweb-helpers.js';
import { corpusDir, requireCorpus, requirePath } from '../test-support/requirements.js';
import { freePort } from '../test-support/services.js';

type Json = Record<string, { vr: string; Value?: unknown[] } | undefined>;
const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

const orthancBinary = '/usr/sbin/Orthanc';
const dicomwebPlugin = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
const ready =
  requireCorpus() &&
  requirePath(orthancBinary, 'Orthanc', 'install it with: apt-get install orthanc') &&
  requirePath(dicomwebPlugin, 'the Orthanc DICOMweb plugin', 'install it with: apt-get install orthanc-dicomweb') &&
  requirePath('/usr/bin/dcmdump', 'dcmtk', 'install it with: apt-get install dcmtk');

/** Files of several transfer syntaxes and a multi-instance series. */
const files = [
  'mixed/orthanc_TS_1.2.840.10008.1.2.1.dcm',
  'mixed/orthanc_TS_1.2.840.10008.1.2.2.dcm',
  'mixed/orthanc_TS_1.2.840.10008.1.2.4.50.dcm',
  'mixed/orthanc_TS_1.2.840.10008.1.2.4.70.dcm',
  'mixed/orthanc_TS_1.2.840.10008.1.2.4.90.dcm',
  'mixed/orthanc_TS_1.2.840.10008.1.2.5.dcm',
  'mixed/pydicom_JPEG2000.dcm',
  'ct-series/dcmqi-ct-3slice/01.dcm',
  'ct-series/dcmqi-ct-3slice/02.dcm',
  'ct-series/dcmqi-ct-3slice/03.dcm',
  'seg/highdicom_seg_image_ct_binary_single_frame.dcm',
];

describe.skipIf(!ready)('interoperability with Orthanc (Debian) and dcmtk', () => {
  let app: ServerApp;
  let ours = '';
  let token = '';
  const ourFetch = (url: string, init: RequestInit = {}): Promise<Response> =>
    fetch(url, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string> | undefined) } });
  let orthanc: ChildProcess | undefined;
  let orthancUrl = '';
  const auth = `Basic ${Buffer.from('test:testpass').toString('base64')}`;

  const rest = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${orthancUrl}${path}`, {
      method,
      headers: { authorization: auth, ...(body === undefined ? {} : { 'content-type': body instanceof Buffer ? 'application/dicom' : 'application/json' }) },
      ...(body === undefined ? {} : { body: body instanceof Buffer ? new Uint8Array(body) : JSON.stringify(body) }),
    });
    const text = await response.text();
    if (response.status >= 300) throw new Error(`Orthanc ${method} ${path}: ${response.status} ${text}`);
    return text === '' ? null : (JSON.parse(text) as unknown);
  };

  beforeAll(async () => {
    ({ app, token } = await testServer());
    ours = await app.listen({ host: '127.0.0.1', port: 0 });
    const dir = await mkdtemp(join(tmpdir(), 'paradim-orthanc-'));
    const httpPort = await freePort();
    const dicomPort = await freePort();
    orthancUrl = `http://127.0.0.1:${httpPort}`;
    const config = {
      Name: 'ParadimInterop',
      StorageDirectory: join(dir, 'db'),
      IndexDirectory: join(dir, 'db'),
      Plugins: [dicomwebPlugin],
      HttpPort: httpPort,
      DicomPort: dicomPort,
      RemoteAccessAllowed: false,
      AuthenticationEnabled: true,
      RegisteredUsers: { test: 'testpass' },
      DicomWeb: { Enable: true, Root: '/dicom-web/', Servers: { paradim: { Url: `${ours}/dicomweb/`, HttpHeaders: { Authorization: `Bearer ${token}` } } } },
    };
    await writeFile(join(dir, 'orthanc.json'), JSON.stringify(config));
    orthanc = spawn(orthancBinary, [join(dir, 'orthanc.json')], { stdio: 'ignore' });
    for (let i = 0; i < 200; i += 1) {
      try {
        if ((await fetch(`${orthancUrl}/system`, { headers: { authorization: auth } })).status === 200) break;
      } catch {
        // Starting.
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }, 60_000);

  afterAll(async () => {
    if (orthanc !== undefined && orthanc.exitCode === null) {
      const exited = new Promise((resolve) => orthanc?.once('exit', resolve));
      orthanc.kill('SIGTERM');
      await exited;
    }
    await app?.close();
  }, 30_000);

  it('Orthanc pushes studies to our server with its DICOMweb client (chunked STOW-RS) and they arrive byte-identical', async () => {
    const originals = new Map<string, Buffer>();
    for (const file of files) {
      const bytes = readFileSync(join(corpusDir, file));
      const answer = (await rest('POST', '/instances', bytes)) as { ID: string };
      const tags = (await rest('GET', `/instances/${answer.ID}/simplified-tags`)) as { SOPInstanceUID: string };
      originals.set(tags.SOPInstanceUID, bytes);
    }
    const studies = (await rest('GET', '/studies')) as string[];
    const job = (await rest('POST', '/dicom-web/servers/paradim/stow', { Resources: studies, Synchronous: true })) as Record<string, unknown>;
    expect(job).toBeTruthy();
    for (const [sop, bytes] of originals) {
      const found = (await (await ourFetch(`${ours}/dicomweb/instances?SOPInstanceUID=${sop}`)).json()) as Json[];
      expect(found.length).toBe(1);
      const url = String(found[0]?.['00081190']?.Value?.[0]);
      const response = await ourFetch(url, { headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
      const [part] = parseMultipartResponse(Buffer.from(await response.arrayBuffer()), response.headers.get('content-type') ?? '');
      expect(sha(part?.data ?? Buffer.alloc(0))).toBe(sha(bytes));
    }
  }, 60_000);

  it('Orthanc queries (QIDO-RS) and retrieves (WADO-RS) from our server, getting the same bytes back', async () => {
    const studies = (await (await ourFetch(`${ours}/dicomweb/studies`)).json()) as Json[];
    expect(studies.length).toBeGreaterThan(0);
    const ct = readFileSync(join(corpusDir, 'ct-series/dcmqi-ct-3slice/01.dcm'));
    const patientID = (await (await ourFetch(`${ours}/dicomweb/instances?includefield=PatientID&limit=100`)).json()) as Json[];
    expect(patientID.length).toBeGreaterThan(0);
    // Orthanc parses our DICOM JSON and answers in its own format (Value as a plain string).
    const qido = (await rest('POST', '/dicom-web/servers/paradim/qido', { Uri: '/studies', Arguments: {} })) as Record<string, { Value?: unknown } | undefined>[];
    expect(qido.map((study) => String(study['0020000D']?.Value)).sort()).toEqual(studies.map((study) => study['0020000D']?.Value?.[0]).sort());

    // Empty Orthanc, then have it retrieve every study from us.
    for (const id of (await rest('GET', '/studies')) as string[]) await rest('DELETE', `/studies/${id}`);
    for (const study of studies) {
      await rest('POST', '/dicom-web/servers/paradim/retrieve', { Resources: [{ Study: String(study['0020000D']?.Value?.[0]) }] });
    }
    const instances = (await rest('GET', '/instances')) as string[];
    expect(instances.length).toBe(files.length);
    const shas = new Set<string>();
    for (const id of instances) {
      const response = await fetch(`${orthancUrl}/instances/${id}/file`, { headers: { authorization: auth } });
      shas.add(sha(Buffer.from(await response.arrayBuffer())));
    }
    expect(shas.has(sha(ct))).toBe(true);
    for (const file of files) expect(shas.has(sha(readFileSync(join(corpusDir, file)))), file).toBe(true);
  }, 60_000);

  it('dcmtk reads the instances and metadata-described files we return', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'paradim-dcmtk-'));
    const instances = (await (await ourFetch(`${ours}/dicomweb/instances?limit=100`)).json()) as Json[];
    expect(instances.length).toBe(files.length);
    for (const [i, instance] of instances.entries()) {
      const response = await ourFetch(String(instance['00081190']?.Value?.[0]));
      const [part] = parseMultipartResponse(Buffer.from(await response.arrayBuffer()), response.headers.get('content-type') ?? '');
      const path = join(dir, `${i}.dcm`);
      await writeFile(path, part?.data ?? Buffer.alloc(0));
      const dump = spawnSync('/usr/bin/dcmdump', ['+P', '0008,0018', path], { encoding: 'utf8' });
      expect(dump.status, dump.stderr).toBe(0);
      expect(dump.stdout).toContain(String(instance['00080018']?.Value?.[0]));
    }
  }, 60_000);
});
