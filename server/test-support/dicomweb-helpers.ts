import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { buildServer, type ServerApp } from '../app.js';
import { loadServerConfig } from '../config.js';
import { repoRoot } from './requirements.js';

/** A multipart/related body of application/dicom parts, as STOW-RS clients send it. */
export function multipartBody(parts: Buffer[], options: { boundary?: string; partHeaders?: string[] } = {}): { body: Buffer; contentType: string; boundary: string } {
  const boundary = options.boundary ?? `b-${randomBytes(8).toString('hex')}`;
  const chunks: Buffer[] = [];
  parts.forEach((part, i) => {
    const headers = options.partHeaders?.[i] ?? `Content-Type: application/dicom\r\nContent-Length: ${part.length}`;
    chunks.push(Buffer.from(`--${boundary}\r\n${headers}\r\n\r\n`), part, Buffer.from('\r\n'));
  });
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/related; type="application/dicom"; boundary=${boundary}`, boundary };
}

/** Splits a multipart/related answer into its parts (headers and bytes). */
export function parseMultipartResponse(body: Buffer, contentType: string): { headers: Record<string, string>; data: Buffer }[] {
  const match = /boundary="?([^";]+)"?/.exec(contentType);
  if (match === null) throw new Error(`no boundary in ${contentType}`);
  const delimiter = Buffer.from(`--${match[1]}`);
  const parts: { headers: Record<string, string>; data: Buffer }[] = [];
  let pos = body.indexOf(delimiter);
  for (;;) {
    if (pos < 0) break;
    const after = pos + delimiter.length;
    if (body.subarray(after, after + 2).toString() === '--') break;
    const headerEnd = body.indexOf('\r\n\r\n', after);
    const headerText = body.subarray(after + 2, headerEnd).toString('latin1');
    const headers: Record<string, string> = {};
    for (const line of headerText.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headerEnd + 4);
    parts.push({ headers, data: body.subarray(headerEnd + 4, next) });
    pos = next + 2;
  }
  return parts;
}

/** A server on a fresh data folder (embedded SQLite + files), built without listening. */
export async function testServer(extra: Record<string, string> = {}): Promise<{ app: ServerApp; dataDir: string; token: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'paradim-dicomweb-'));
  const config = await loadServerConfig({ cli: { dataDir }, env: extra });
  const app = await buildServer(config, pino({ level: 'silent' }), { env: {} });
  const token = await withAdminToken(app);
  return { app, dataDir, token };
}

const injected = new WeakMap<ServerApp, number>();

/** Makes every injected request carry a server administrator's token unless the test sets its own Authorization. */
export async function withAdminToken(app: ServerApp): Promise<string> {
  const token = await adminToken(app);
  const inject = app.inject.bind(app) as (options: InjectOptions) => Promise<LightMyRequestResponse>;
  const authorization = { authorization: `Bearer ${token}` };
  app.inject = ((options: InjectOptions | string) => {
    injected.set(app, (injected.get(app) ?? 0) + 1);
    return inject(typeof options === 'string' ? { url: options, headers: authorization } : { ...options, headers: { ...authorization, ...options.headers } });
  }) as typeof app.inject;
  return token;
}

/** How many requests a test injected through `withAdminToken`, and how many audit entries the server wrote for them. */
export async function auditCounts(app: ServerApp): Promise<{ requests: number; entries: number }> {
  await app.identity.audit.checkpointNow();
  let entries = 0;
  for (let afterSeq = 0; ; ) {
    const page = await app.identity.audit.query({ afterSeq, limit: 1000 });
    entries += page.filter((entry) => entry.clientAddress !== 'local-cli').length;
    if (page.length < 1000) break;
    afterSeq = page[page.length - 1]?.seq ?? afterSeq;
  }
  return { requests: injected.get(app) ?? 0, entries };
}

/** A server administrator's token (what PACS peers, pipelines and these tests use on the server-wide root). */
export async function adminToken(app: ServerApp): Promise<string> {
  const admin = await app.identity.identity.ensureLocalUser('test-admin', { isAdmin: true });
  return (await app.identity.identity.createToken({ userId: admin.id, albumId: null, permissions: ['read', 'write', 'download'] })).secret;
}

/** The same for a server started as a process: the admin CLI writes into its data folder before it starts. */
export function adminTokenFor(cliBundle: string, dataDir: string): string {
  const run = (args: string[]): string => {
    // A bundle outside the repository (built on the fly by a test) finds the native modules through NODE_PATH.
    const env = { ...process.env, NODE_PATH: join(repoRoot, 'node_modules') };
    const result = spawnSync(process.execPath, [cliBundle, ...args, '--data', dataDir], { encoding: 'utf8', env });
    if (result.status !== 0) throw new Error(`paradim-server ${args.join(' ')} failed: ${result.stderr}`);
    return result.stdout.trim();
  };
  run(['user', 'create', '--name', 'test-admin', '--admin']);
  return run(['token', 'create', '--user', 'test-admin', '--permissions', 'read,write,download']);
}

/** STOW-RS as a given token: the parts in one multipart/related body. */
export function stowAs(app: ServerApp, url: string, token: string, parts: Buffer[]): Promise<LightMyRequestResponse> {
  const { body, contentType } = multipartBody(parts);
  return app.inject({ method: 'POST', url, headers: { 'content-type': contentType, accept: 'application/dicom+json', authorization: `Bearer ${token}` }, payload: body });
}
