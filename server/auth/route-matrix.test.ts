import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { buildServer, type RegisteredRoute, type ServerApp } from '../app.js';
import { loadServerConfig } from '../config.js';
import { stowAs } from '../test-support/dicomweb-helpers.js';
import { newUid, syntheticInstance } from '../test-support/synthetic-dicom.js';
import type { IdentityModule } from './identity-module.js';

/**
 * The authorization matrix over EVERY route the server registers (collected as they are registered, so a new route
 * is covered without touching this test): each bad credential gets 401/403 and an error body without data.
 */
let app: FastifyInstance;
let identity: IdentityModule;
let routes: readonly RegisteredRoute[];
const t: Record<string, string> = {};
const ids = { album: '', user: '', token: '0000000000000000', study: newUid(), series: newUid(), instance: newUid() };

beforeAll(async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'paradim-matrix-'));
  // The real server, as `paradim-server serve` builds it.
  app = (await buildServer(await loadServerConfig({ cli: { dataDir }, env: {} }), pino({ level: 'silent' }), { env: {} })) as unknown as FastifyInstance;
  identity = (app as unknown as ServerApp).identity;
  routes = (app as unknown as ServerApp).routeTable;
  const store = identity.identity;
  const owner = await store.ensureLocalUser('owner');
  const album = await store.createAlbum({ name: 'Matrix', adminUserId: owner.id });
  const other = await store.createAlbum({ name: 'Other', adminUserId: owner.id });
  ids.album = album.id;
  ids.user = owner.id;
  const all = ['read', 'write', 'download'] as const;
  const root = await store.ensureLocalUser('root', { isAdmin: true });
  t.root = (await store.createToken({ userId: root.id, albumId: null, permissions: all })).secret;
  const make = async (extra: Partial<Parameters<typeof store.createToken>[0]>): Promise<string> =>
    (await store.createToken({ userId: owner.id, albumId: album.id, permissions: all, ...extra })).secret;
  t.expired = await make({ expiresAt: new Date(Date.now() - 1000) });
  t.future = await make({ notBefore: new Date(Date.now() + 3_600_000) });
  t.revoked = await make({});
  await store.revokeToken(t.revoked);
  t.otherAlbum = await make({ albumId: other.id });
  t.none = await make({ permissions: ['read'] });
  t.readOnly = t.none;
  t.writeOnly = await make({ permissions: ['write'] });
  t.stranger = (await store.createToken({ userId: (await store.ensureLocalUser('stranger')).id, albumId: null, permissions: all })).secret;
  // Data behind the routes, so a refusal cannot be mistaken for "nothing there".
  await stowAs(app, `/albums/${album.id}/dicomweb/studies`, (await make({})), [
    syntheticInstance({ study: ids.study, series: ids.series, sop: ids.instance, patientID: 'MATRIX-PATIENT', patientName: 'MATRIX^SECRET' }),
  ]);
});

afterAll(async () => {
  await app.close();
});

function concrete(url: string): string {
  return url
    .replace(':album', ids.album)
    .replace(':userId', ids.user)
    .replace(':tokenId', ids.token)
    .replace(':study', ids.study)
    .replace(':series', ids.series)
    .replace(':instance', ids.instance)
    .replace(':frames', '1')
    .replace(':reference', '7fe00010')
    .replace('/*', '/studies');
}

describe('every route refuses bad credentials without leaking data', () => {
  it('covers the whole API (identity, album, server-wide and album-scoped DICOMweb)', () => {
    expect(routes.length).toBeGreaterThan(40);
    expect(routes.filter((r) => r.access === undefined)).toEqual([]);
  });

  it('answers 401 or 403 with an error body and no data for each bad credential', async () => {
    const failures: string[] = [];
    for (const route of routes) {
      const rule = route.access;
      if (rule === undefined || rule.public === true) continue;
      const cases: Array<[string, string | null, number]> = [
        ['no token', null, 401],
        ['expired', t.expired ?? '', 401],
        ['not yet valid', t.future ?? '', 401],
        ['revoked', t.revoked ?? '', 401],
      ];
      if (rule.albumParam !== undefined) cases.push(['other album', t.otherAlbum ?? '', 403], ['stranger', t.stranger ?? '', 403]);
      if (rule.serverAdmin === true) cases.push(['not an administrator', t.stranger ?? '', 403]);
      if (rule.permission === 'read' || rule.permission === 'download') cases.push(['missing permission', t.writeOnly ?? '', 403]);
      if (rule.permission === 'write') cases.push(['missing permission', t.readOnly ?? '', 403]);
      for (const [label, secret, status] of cases) {
        const response = await app.inject({
          method: route.method as 'GET',
          url: concrete(route.url),
          headers: { ...(secret === null ? {} : { authorization: `Bearer ${secret}` }), accept: '*/*', 'content-type': 'application/json' },
          ...(route.method === 'GET' || route.method === 'DELETE' || route.method === 'OPTIONS' ? {} : { payload: '{}' }),
        });
        const body = response.body;
        const leaks = body.includes(ids.study) || body.includes('MATRIX') || body.includes('Matrix');
        const onlyError = (() => {
          try {
            return Object.keys(JSON.parse(body) as object).join() === 'error';
          } catch {
            return false;
          }
        })();
        if (response.statusCode !== status || leaks || !onlyError) failures.push(`${route.method} ${route.url} [${label}] → ${response.statusCode}${leaks ? ' LEAK' : ''}${onlyError ? '' : ' not an error body'}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('lets the right credential through', async () => {
    const response = await app.inject({ method: 'GET', url: `/albums/${ids.album}/dicomweb/studies`, headers: { authorization: `Bearer ${t.root}` } });
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain(ids.study);
  });
});
