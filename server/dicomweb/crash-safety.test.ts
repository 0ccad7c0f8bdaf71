import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminTokenFor, multipartBody, parseMultipartResponse, testServer, withAdminToken } from '../test-support/dicomweb-helpers.js';
import { repoRoot } from '../test-support/requirements.js';
import { newUid, syntheticInstance } from '../test-support/synthetic-dicom.js';

type Json = Record<string, { vr: string; Value?: unknown[] } | undefined>;
const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

let bundle = '';
/** A server administrator's token, written into each data folder by the admin CLI before the server starts. */
const tokens = new Map<string, string>();
let token = '';
const authedFetch = (url: string, init: RequestInit = {}): Promise<Response> =>
  fetch(url, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string> | undefined) } });
const children = new Set<ChildProcess>();

/** The real server as a child process (the CLI bundled on the fly), on a free loopback port. */
async function startServer(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  if (!tokens.has(dataDir)) tokens.set(dataDir, adminTokenFor(bundle, dataDir));
  token = tokens.get(dataDir) ?? '';
  const child = spawn(process.execPath, [bundle, 'serve', '--port', '0', '--host', '127.0.0.1', '--data', dataDir, '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, NODE_PATH: join(repoRoot, 'node_modules') },
  });
  children.add(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.on('message', (message) => {
      const m = message as { type?: string; url?: string };
      if (m.type === 'listening' && m.url !== undefined) resolve(m.url);
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${stderr}`)));
  });
  return { child, url };
}

async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  children.delete(child);
}

function batch(n: number, patientID: string): { bytes: Buffer; study: string; series: string; sop: string }[] {
  const study = newUid();
  const series = newUid();
  return Array.from({ length: n }, (_, i) => {
    const sop = newUid();
    return { bytes: syntheticInstance({ study, series, sop, patientID, instanceNumber: i + 1, rows: 64, columns: 64 }), study, series, sop };
  });
}

function blobCount(dataDir: string): number {
  return readdirSync(join(dataDir, 'blobs'), { recursive: true }).filter((name) => /[0-9a-f]{32}$/.test(String(name))).length;
}

async function indexed(url: string, sop: string): Promise<boolean> {
  const answer = (await (await authedFetch(`${url}/dicomweb/instances?SOPInstanceUID=${sop}`)).json()) as Json[];
  return answer.length === 1;
}

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'paradim-crash-bundle-'));
  bundle = join(dir, 'cli.cjs');
  await build({
    entryPoints: [join(repoRoot, 'server', 'cli.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile: bundle,
    external: ['better-sqlite3', 'pg-native'],
    logLevel: 'silent',
  });
}, 60_000);

afterAll(async () => {
  for (const child of children) await kill9(child);
});

describe('crash safety (kill -9 of a real server process)', () => {
  it('keeps every acknowledged STOW after kill -9 right after the response, and no half-stored request', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'paradim-crash-'));
    const acknowledged: { bytes: Buffer; study: string; series: string; sop: string }[] = [];
    const unacknowledged: { bytes: Buffer; sop: string }[][] = [];
    for (let round = 0; round < 3; round += 1) {
      const { child, url } = await startServer(dataDir);
      const batches = Array.from({ length: 4 }, () => batch(10, `CRASH-${round}`));
      let killed: Promise<void> | undefined;
      await Promise.all(
        batches.map(async (items) => {
          const { body, contentType } = multipartBody(items.map((item) => item.bytes));
          try {
            const response = await authedFetch(`${url}/dicomweb/studies`, { method: 'POST', headers: { 'content-type': contentType }, body: new Uint8Array(body) });
            const status = response.status;
            // Kill the moment the first acknowledgement arrives; the others race with the kill.
            killed ??= kill9(child);
            if (status === 200) acknowledged.push(...items);
            else unacknowledged.push(items);
          } catch {
            unacknowledged.push(items);
          }
        }),
      );
      await killed;
    }
    expect(acknowledged.length).toBeGreaterThanOrEqual(30);

    const { child, url } = await startServer(dataDir);
    for (const item of acknowledged) {
      const response = await authedFetch(`${url}/dicomweb/studies/${item.study}/series/${item.series}/instances/${item.sop}`);
      expect(response.status).toBe(200);
      const [part] = parseMultipartResponse(Buffer.from(await response.arrayBuffer()), response.headers.get('content-type') ?? '');
      expect(sha(part?.data ?? Buffer.alloc(0))).toBe(sha(item.bytes));
    }
    // A request that was not acknowledged is all-or-nothing: one transaction per request.
    for (const items of unacknowledged) {
      const states = await Promise.all(items.map((item) => indexed(url, item.sop)));
      expect(new Set(states).size).toBe(1);
    }
    // Start-up repair leaves exactly one blob per indexed instance.
    const total = ((await (await authedFetch(`${url}/dicomweb/instances?limit=100000`)).json()) as Json[]).length;
    expect(blobCount(dataDir)).toBe(total);
    await kill9(child);
  }, 120_000);

  it('indexes nothing of a request killed mid-body and removes its blobs at the next start', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'paradim-crash-mid-'));
    const { child, url } = await startServer(dataDir);
    const items = batch(6, 'MIDCRASH');
    const { body, contentType } = multipartBody(items.map((item) => item.bytes));
    const req = httpRequest(`${url}/dicomweb/studies`, { method: 'POST', headers: { 'content-type': contentType, 'transfer-encoding': 'chunked', authorization: `Bearer ${token}` } });
    req.on('error', () => undefined);
    // Send four and a half parts, then wait until the server has written blobs for them.
    const cut = body.indexOf(Buffer.from(items[4]?.sop ?? ''), 0);
    req.write(body.subarray(0, cut));
    for (let i = 0; i < 200 && blobCount(dataDir) < 4; i += 1) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(blobCount(dataDir)).toBeGreaterThanOrEqual(4);
    await kill9(child);
    req.destroy();

    const restarted = await startServer(dataDir);
    for (const item of items) expect(await indexed(restarted.url, item.sop)).toBe(false);
    expect(blobCount(dataDir)).toBe(0);
    expect(!existsSync(join(dataDir, 'spool')) || readdirSync(join(dataDir, 'spool')).length === 0).toBe(true);
    // And the server stores normally afterwards.
    const again = multipartBody(items.map((item) => item.bytes));
    const response = await authedFetch(`${restarted.url}/dicomweb/studies`, { method: 'POST', headers: { 'content-type': again.contentType }, body: new Uint8Array(again.body) });
    expect(response.status).toBe(200);
    expect(blobCount(dataDir)).toBe(6);
    await kill9(restarted.child);
  }, 60_000);
});

describe('streaming STOW (a real server process)', () => {
  it('stores a 300 MB instance without holding the request in memory', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'paradim-stream-'));
    const { child, url } = await startServer(dataDir);
    const status = (): { rss: number; peak: number } => {
      const text = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return { rss: Number(/VmRSS:\s+(\d+)/.exec(text)?.[1]) * 1024, peak: Number(/VmHWM:\s+(\d+)/.exec(text)?.[1]) * 1024 };
    };
    const before = status();
    const study = newUid();
    const series = newUid();
    const sop = newUid();
    const size = 300 * 1024 * 1024;
    // A valid header whose PixelData (the last element) is declared 300 MB long; the bytes are streamed after it.
    const header = syntheticInstance({ study, series, sop, patientID: 'STREAM', pixels: Buffer.alloc(0) });
    header.writeUInt32LE(size, header.length - 4);
    const boundary = 'stream-boundary';
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(`${url}/dicomweb/studies`, {
        method: 'POST',
        headers: { 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`, 'transfer-encoding': 'chunked', authorization: `Bearer ${token}` },
      }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(1024 * 1024, 1);
      let sent = 0;
      const pump = (): void => {
        while (sent < size) {
          sent += chunk.length;
          if (!req.write(chunk)) {
            req.once('drain', pump);
            return;
          }
        }
        req.end(`\r\n--${boundary}--\r\n`);
      };
      req.write(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`);
      req.write(header);
      pump();
    });
    expect(answer.status, answer.text).toBe(200);
    const after = status();
    // The server's peak memory grew by far less than the request it stored.
    expect(after.peak - before.rss).toBeLessThan(120 * 1024 * 1024);
    const metadata = await authedFetch(`${url}/dicomweb/studies/${study}/series/${series}/instances/${sop}/metadata`);
    expect(metadata.status).toBe(200);
    await kill9(child);
  }, 120_000);
});

describe('orphan repair at start', () => {
  it('removes blobs no index row names and keeps indexed ones', async () => {
    const first = await testServer();
    const items = batch(3, 'ORPHAN');
    const { body, contentType } = multipartBody(items.map((item) => item.bytes));
    expect((await first.app.inject({ method: 'POST', url: '/dicomweb/studies', headers: { 'content-type': contentType }, payload: body })).statusCode).toBe(200);
    await first.app.close();
    const dataDir = first.dataDir;
    await writeFile(join(dataDir, 'blobs', 'ab', 'ab'.padEnd(32, '0')), 'orphan');
    await writeFile(join(dataDir, 'blobs', 'cd', 'cd'.padEnd(32, '1')), 'orphan');
    await mkdir(join(dataDir, 'spool'), { recursive: true });
    await writeFile(join(dataDir, 'spool', 'x.part'), 'half');
    expect(blobCount(dataDir)).toBe(5);
    const { buildServer } = await import('../app.js');
    const { loadServerConfig } = await import('../config.js');
    const pino = (await import('pino')).pino;
    const app = await buildServer(await loadServerConfig({ cli: { dataDir }, env: {} }), pino({ level: 'silent' }), { env: {} });
    await withAdminToken(app);
    expect(blobCount(dataDir)).toBe(3);
    expect(readdirSync(join(dataDir, 'spool'))).toEqual([]);
    const response = await app.inject({ method: 'GET', url: `/dicomweb/studies/${items[0]?.study}` });
    expect(parseMultipartResponse(response.rawPayload, String(response.headers['content-type'])).length).toBe(3);
    await app.close();
  });
});
