import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { buildServer, type ServerApp } from '../app.js';
import { loadServerConfig } from '../config.js';

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
export async function testServer(extra: Record<string, string> = {}): Promise<{ app: ServerApp; dataDir: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'paradim-dicomweb-'));
  const config = await loadServerConfig({ cli: { dataDir }, env: extra });
  const app = await buildServer(config, pino({ level: 'silent' }));
  return { app, dataDir };
}
