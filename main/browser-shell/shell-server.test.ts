import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startBrowserWorkstation } from './browser-workstation.js';
import type { ShellServer } from './shell-server.js';

const log = pino({ level: 'silent' });
let shell: ShellServer;
let base: string;

beforeAll(async () => {
  const rendererDir = await mkdtemp(join(tmpdir(), 'paradim-renderer-'));
  await writeFile(join(rendererDir, 'index.html'), '<!doctype html><title>t</title>');
  shell = await startBrowserWorkstation({
    rendererDir,
    userDataDir: await mkdtemp(join(tmpdir(), 'paradim-userdata-')),
    embeddedServerUrl: null,
    log,
    healthIntervalMs: 60_000,
  });
  base = `http://127.0.0.1:${shell.port}`;
});
afterAll(() => shell.close());

function connect(options: { secret?: string; origin?: string; protocols?: string[] } = {}): Promise<WebSocket> {
  const protocols = options.protocols ?? ['paradim-ipc.v1', `secret.${options.secret ?? shell.secret}`];
  const ws = new WebSocket(`ws://127.0.0.1:${shell.port}/ipc`, protocols, { origin: options.origin ?? base });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

function call(ws: WebSocket, id: number, channel: string, input: unknown): Promise<unknown> {
  return new Promise((resolve) => {
    const onMessage = (data: Buffer): void => {
      const message = JSON.parse(data.toString()) as { type: string; id?: number; envelope?: unknown };
      if (message.type === 'result' && message.id === id) {
        ws.off('message', onMessage);
        resolve(message.envelope);
      }
    };
    ws.on('message', onMessage);
    ws.send(JSON.stringify({ id, channel, input }));
  });
}

describe('browser shell server', () => {
  it('binds to loopback and serves the renderer with a strict CSP', async () => {
    const response = await fetch(`${base}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(response.headers.get('content-security-policy')).not.toContain('unsafe-inline');
    expect(shell.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#secret=/);
    expect((await fetch(`${base}/../../etc/passwd`)).status).toBe(404);
    expect((await fetch(`${base}/%2e%2e/%2e%2e/etc/passwd`)).status).toBe(404);
  });

  it('refuses a foreign Host (DNS rebinding), a foreign Origin and path traversal', async () => {
    const { request } = await import('node:http');
    const status = (headers: Record<string, string>, path = '/'): Promise<number> =>
      new Promise((resolve, reject) => {
        request({ host: '127.0.0.1', port: shell.port, path, headers }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on('error', reject)
          .end();
      });
    expect(await status({ host: `rebind.attacker.example:${shell.port}` })).toBe(403);
    expect(await status({ host: `127.0.0.1:${shell.port}`, origin: 'https://attacker.example' })).toBe(403);
    expect(await status({ host: `localhost:${shell.port}` })).toBe(200);
    // Raw, unnormalised traversal attempts never leave the renderer folder.
    expect(await status({ host: `localhost:${shell.port}` }, '/..%2f..%2f..%2fetc%2fpasswd')).toBe(404);
    expect(await status({ host: `localhost:${shell.port}` }, '/../../../etc/passwd')).toBe(404);
  });

  it('refuses a socket with the wrong secret, no secret or a foreign Origin', async () => {
    await expect(connect({ secret: 'not-the-secret' })).rejects.toThrow('HTTP 401');
    await expect(connect({ protocols: ['paradim-ipc.v1'] })).rejects.toThrow('HTTP 401');
    await expect(connect({ origin: 'https://attacker.example' })).rejects.toThrow('HTTP 403');
    await expect(connect({ origin: 'null' })).rejects.toThrow('HTTP 403');
  });

  it('round-trips contract calls and validates input like Electron IPC', async () => {
    const ws = await connect();
    expect(ws.protocol).toBe('paradim-ipc.v1');
    expect(await call(ws, 1, 'app.getInfo', {})).toMatchObject({ ok: true, value: { productName: 'PARADIM Workstation', shell: 'browser' } });
    expect(await call(ws, 2, 'settings.update', { serverUrl: 'not a url' })).toMatchObject({
      ok: false,
      error: { code: 'INVALID_INPUT', details: [{ path: 'serverUrl' }] },
    });
    expect(await call(ws, 3, 'shell.exec', { command: 'id' })).toMatchObject({ ok: false, error: { code: 'UNKNOWN_CHANNEL' } });
    ws.close();
  });

  it('pushes typed events to connected windows', async () => {
    const ws = await connect();
    const event = new Promise<unknown>((resolve) => {
      ws.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString()) as { type: string; event?: string; payload?: unknown };
        if (message.type === 'event' && message.event === 'server.status') resolve(message.payload);
      });
    });
    await call(ws, 1, 'settings.update', { serverUrl: 'http://127.0.0.1:9/' });
    expect(await event).toMatchObject({ url: 'http://127.0.0.1:9/', state: 'offline' });
    ws.close();
  });

  it('closes a socket that sends something other than a contract request', async () => {
    const ws = await connect();
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send('{"not":"a request"');
    expect(await closed).toBe(1008);
  });
});
