import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { buildServer } from './app.js';
import { loadServerConfig } from './config.js';

describe('companion server skeleton', () => {
  it('answers health and readiness without listening', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'paradim-server-'));
    const app = await buildServer(await loadServerConfig({ cli: { dataDir }, env: {} }), pino({ level: 'silent' }));
    const health = await app.inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toMatchObject({ status: 'ok', name: 'paradim-server' });
    expect((await app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ready' });
    const missing = await app.inject({ method: 'GET', url: '/nope' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    await app.close();
  });
});

describe('server configuration', () => {
  it('merges file, environment and options, options winning', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'paradim-config-'));
    const file = join(dir, 'server.json');
    await import('node:fs/promises').then((fs) => fs.writeFile(file, JSON.stringify({ port: 9000, dataDir: dir, host: '0.0.0.0' })));
    const config = await loadServerConfig({ file, env: { PARADIM_SERVER_PORT: '9100' }, cli: { host: '127.0.0.1' } });
    expect(config).toMatchObject({ port: 9100, host: '127.0.0.1', dataDir: dir });
  });

  it('names the setting and its source when a value is invalid', async () => {
    await expect(loadServerConfig({ env: { PARADIM_SERVER_PORT: 'eighty', PARADIM_DATA_DIR: '/tmp/x' } })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      details: [{ path: 'PARADIM_SERVER_PORT' }],
    });
    await expect(loadServerConfig({ env: {}, cli: {} })).rejects.toMatchObject({ details: [{ path: 'config: dataDir' }] });
    await expect(loadServerConfig({ file: '/nonexistent/server.json', env: {} })).rejects.toMatchObject({
      details: [{ path: '/nonexistent/server.json', issue: 'cannot be read' }],
    });
  });
});
