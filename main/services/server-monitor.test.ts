import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerStatus } from '../../shared/ipc/contract.js';
import { ServerMonitor } from './server-monitor.js';

const log = pino({ level: 'silent' });
let server: Server | undefined;

afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
});

async function serve(status: number, body: string): Promise<string> {
  server = createServer((req, res) => {
    res.writeHead(req.url === '/base/healthz' ? status : 404, { 'content-type': 'application/json' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/base`;
}

describe('ServerMonitor', () => {
  it('reports online with the server version and notifies once per change', async () => {
    const url = await serve(200, '{"status":"ok","version":"9.9.9"}');
    const seen: ServerStatus[] = [];
    const monitor = new ServerMonitor({ url, log, onChange: (s) => seen.push(s) });
    expect(await monitor.checkNow()).toMatchObject({ state: 'online', serverVersion: '9.9.9', url });
    await monitor.checkNow();
    expect(seen).toHaveLength(1);
  });

  it('explains why the server is offline', async () => {
    const url = await serve(503, '{}');
    const monitor = new ServerMonitor({ url, log, onChange: () => undefined });
    expect(await monitor.checkNow()).toMatchObject({ state: 'offline', reason: 'the server answered HTTP 503' });
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = new ServerMonitor({ url: `http://127.0.0.1:${closedPort}`, log, onChange: () => undefined });
    expect((await refused.checkNow()).reason).toMatch(/refused/);
    const none = new ServerMonitor({ url: null, log, onChange: () => undefined });
    expect((await none.checkNow()).reason).toMatch(/no companion server/);
  });
});
