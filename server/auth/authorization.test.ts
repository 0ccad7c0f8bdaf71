import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors/app-error.js';
import { toWireError } from '../../shared/ipc/envelope.js';
import { auditPaths } from '../audit/audit-log.js';
import { verifyAuditTrail } from '../audit/audit-verify.js';
import { attachIdentity, type IdentityModule } from './identity-module.js';

// The authorization matrix: every route × every bad credential → 401/403 with no data; a right token → 2xx.
let app: FastifyInstance;
let module: IdentityModule;
let dataDir: string;
const t: Record<string, string> = {};
let albumId = '';
let otherAlbumId = '';
let memberId = '';
let ownTokenId = '';

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'paradim-authz-'));
  app = Fastify({ loggerInstance: pino({ level: 'silent' }) }) as unknown as FastifyInstance;
  app.setErrorHandler((error, _request, reply) => {
    const known = error instanceof AppError ? error : null;
    void reply.status(known?.httpStatus ?? 500).send({ error: toWireError(error) });
  });
  module = await attachIdentity(app, { dataDir });
  app.get('/healthz', { config: { access: { action: 'request.other', permission: null, public: true } } }, async () => ({ status: 'ok' }));
  app.get('/unguarded', async () => ({ secret: 'should never be served' }));
  await app.ready();

  const { identity } = module;
  const steward = await identity.ensureLocalUser('steward');
  const reader = await identity.ensureLocalUser('reader');
  memberId = reader.id;
  const album = await identity.createAlbum({ name: 'Study A', adminUserId: steward.id });
  const other = await identity.createAlbum({ name: 'Study B', adminUserId: steward.id });
  albumId = album.id;
  otherAlbumId = other.id;
  await identity.addMember(album.id, reader.id, { flags: { addUser: false } });
  await identity.ensureLocalUser('newcomer');
  await identity.addSeries(album.id, '1.2.3', '1.2.3.4');
  const all = ['read', 'write', 'download'] as const;
  const root = await identity.ensureLocalUser('root', { isAdmin: true });
  t.admin = (await identity.createToken({ userId: root.id, albumId: null, permissions: all })).secret;
  t.good = (await identity.createToken({ userId: steward.id, albumId: album.id, permissions: all })).secret;
  const own = await identity.createToken({ userId: steward.id, albumId: null, permissions: all });
  t.own = own.secret;
  ownTokenId = own.token.id;
  t.expired = (await identity.createToken({ userId: steward.id, albumId: album.id, permissions: all, expiresAt: new Date(Date.now() - 1000) })).secret;
  t.future = (await identity.createToken({ userId: steward.id, albumId: album.id, permissions: all, notBefore: new Date(Date.now() + 3_600_000) })).secret;
  const revoked = await identity.createToken({ userId: steward.id, albumId: album.id, permissions: all });
  await identity.revokeToken(revoked.token.id);
  t.revoked = revoked.secret;
  t.otherAlbum = (await identity.createToken({ userId: steward.id, albumId: other.id, permissions: all })).secret;
  t.readOnly = (await identity.createToken({ userId: steward.id, albumId: album.id, permissions: ['read'] })).secret;
  t.writeOnly = (await identity.createToken({ userId: steward.id, albumId: album.id, permissions: ['write'] })).secret;
  t.member = (await identity.createToken({ userId: reader.id, albumId: null, permissions: all })).secret;
  t.stranger = (await identity.createToken({ userId: (await identity.ensureLocalUser('stranger')).id, albumId: null, permissions: all })).secret;
});

afterAll(async () => {
  await app.close();
  await module.close();
});

interface Case {
  readonly name: string;
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url(): string;
  body?(): unknown;
  /** The permission the route needs; null = none (any valid credential). */
  readonly permission: 'read' | 'write' | null;
  /** Album-scoped routes refuse a token of another album. */
  readonly album: boolean;
  readonly good: () => string;
}

const cases: Case[] = [
  { name: 'list albums', method: 'GET', url: () => '/api/albums', permission: 'read', album: false, good: () => t.good ?? '' },
  { name: 'read album', method: 'GET', url: () => `/api/albums/${albumId}`, permission: 'read', album: true, good: () => t.good ?? '' },
  { name: 'update album', method: 'PATCH', url: () => `/api/albums/${albumId}`, body: () => ({ description: 'x' }), permission: 'write', album: true, good: () => t.good ?? '' },
  { name: 'members', method: 'GET', url: () => `/api/albums/${albumId}/members`, permission: 'read', album: true, good: () => t.good ?? '' },
  { name: 'add member', method: 'PUT', url: () => `/api/albums/${albumId}/members/${memberId}`, body: () => ({}), permission: 'write', album: true, good: () => t.good ?? '' },
  { name: 'invite member', method: 'POST', url: () => `/api/albums/${albumId}/members`, body: () => ({ user: 'newcomer' }), permission: 'write', album: true, good: () => t.good ?? '' },
  { name: 'add series', method: 'PUT', url: () => `/api/albums/${albumId}/series/1.2.3/1.2.3.5`, permission: 'write', album: true, good: () => t.good ?? '' },
  { name: 'events', method: 'GET', url: () => `/api/albums/${albumId}/events`, permission: 'read', album: true, good: () => t.good ?? '' },
  { name: 'comment', method: 'POST', url: () => `/api/albums/${albumId}/comments`, body: () => ({ text: 'ok' }), permission: 'write', album: true, good: () => t.good ?? '' },
  { name: 'access review', method: 'GET', url: () => `/api/albums/${albumId}/access-review`, permission: 'read', album: true, good: () => t.good ?? '' },
  { name: 'create album', method: 'POST', url: () => '/api/albums', body: () => ({ name: 'New' }), permission: 'write', album: false, good: () => t.admin ?? '' },
  { name: 'my tokens', method: 'GET', url: () => '/api/tokens', permission: null, album: false, good: () => t.good ?? '' },
  { name: 'create token', method: 'POST', url: () => '/api/tokens', body: () => ({ permissions: ['read'] }), permission: null, album: false, good: () => t.admin ?? '' },
  { name: 'introspect', method: 'POST', url: () => '/oauth/introspect', body: () => ({ token: t.good }), permission: null, album: false, good: () => t.good ?? '' },
  { name: 'audit query', method: 'GET', url: () => '/api/audit', permission: 'read', album: false, good: () => t.admin ?? '' },
];

async function call(c: Case, secret: string | null): Promise<{ status: number; body: string }> {
  const response = await app.inject({
    method: c.method,
    url: c.url(),
    headers: secret === null ? {} : { authorization: `Bearer ${secret}` },
    ...(c.body === undefined ? {} : { payload: c.body() as Record<string, unknown> }),
  });
  return { status: response.statusCode, body: response.body };
}

function expectNoData(body: string): void {
  const parsed = JSON.parse(body) as Record<string, unknown>;
  expect(Object.keys(parsed)).toEqual(['error']);
  expect(body).not.toContain('1.2.3.4');
  expect(body).not.toContain('Study A');
}

describe('authorization matrix', () => {
  it.each(cases)('$name: refuses every bad credential without data, accepts the right one', async (c) => {
    const bad: Array<[string, string | null, number]> = [
      ['no token', null, 401],
      ['garbage', 'not-a-token', 401],
      ['expired', t.expired ?? '', 401],
      ['not yet valid', t.future ?? '', 401],
      ['revoked', t.revoked ?? '', 401],
    ];
    if (c.album) bad.push(['other album', t.otherAlbum ?? '', 403], ['stranger', t.stranger ?? '', 403]);
    if (c.permission === 'read') bad.push(['missing read', t.writeOnly ?? '', 403]);
    if (c.permission === 'write') bad.push(['missing write', t.readOnly ?? '', 403]);
    for (const [label, secret, status] of bad) {
      const response = await call(c, secret);
      expect({ label, status: response.status }).toEqual({ label, status });
      expectNoData(response.body);
    }
    const ok = await call(c, c.good());
    expect(ok.status, ok.body).toBeGreaterThanOrEqual(200);
    expect(ok.status, ok.body).toBeLessThan(300);
  });

  it('refuses routes that declare no access rule, and member flags are enforced', async () => {
    const unguarded = await app.inject({ method: 'GET', url: '/unguarded', headers: { authorization: `Bearer ${t.admin}` } });
    expect(unguarded.statusCode).toBe(403);
    expect(unguarded.body).not.toContain('should never be served');
    const noFlag = await app.inject({ method: 'PUT', url: `/api/albums/${albumId}/members/${memberId}`, headers: { authorization: `Bearer ${t.member}` }, payload: {} });
    expect(noFlag.statusCode).toBe(403);
    expect(JSON.parse(noFlag.body)).toMatchObject({ error: { code: 'FORBIDDEN', details: [{ issue: 'your membership does not allow addUser' }] } });
    const review = await app.inject({ method: 'GET', url: `/api/albums/${albumId}/access-review`, headers: { authorization: `Bearer ${t.member}` } });
    expect(review.statusCode).toBe(403);
    const audit = await app.inject({ method: 'GET', url: '/api/audit', headers: { authorization: `Bearer ${t.member}` } });
    expect(audit.statusCode).toBe(403);
  });

  it('never lets a token mint a broader one, and revokes from the review', async () => {
    const broader = await app.inject({ method: 'POST', url: '/api/tokens', headers: { authorization: `Bearer ${t.readOnly}` }, payload: { albumId, permissions: ['read', 'write'] } });
    expect(broader.statusCode).toBe(403);
    const escape = await app.inject({ method: 'POST', url: '/api/tokens', headers: { authorization: `Bearer ${t.good}` }, payload: { albumId: otherAlbumId, permissions: ['read'] } });
    expect(escape.statusCode).toBe(403);
    const created = await app.inject({ method: 'POST', url: '/api/tokens', headers: { authorization: `Bearer ${t.good}` }, payload: { albumId, permissions: ['read'], expiresIn: '7d', label: 'viewer' } });
    expect(created.statusCode).toBe(201);
    const { secret, token } = JSON.parse(created.body) as { secret: string; token: { id: string; expiresAt: string } };
    expect(new Date(token.expiresAt).getTime()).toBeGreaterThan(Date.now() + 6 * 86_400_000);
    const introspected = await app.inject({ method: 'POST', url: '/oauth/introspect', headers: { authorization: `Bearer ${t.good}` }, payload: { token: secret } });
    expect(JSON.parse(introspected.body)).toMatchObject({ active: true, scope: 'read', album_id: albumId });
    const asStranger = await app.inject({ method: 'POST', url: '/oauth/introspect', headers: { authorization: `Bearer ${t.stranger}` }, payload: { token: secret } });
    expect(JSON.parse(asStranger.body)).toEqual({ active: false });
    const review = await app.inject({ method: 'GET', url: `/api/albums/${albumId}/access-review?format=csv`, headers: { authorization: `Bearer ${t.good}` } });
    expect(review.headers['content-type']).toContain('text/csv');
    expect(review.body).toContain(token.id);
    const revoke = await app.inject({ method: 'DELETE', url: `/api/tokens/${token.id}`, headers: { authorization: `Bearer ${t.good}` } });
    expect(revoke.statusCode).toBe(204);
    const after = await app.inject({ method: 'GET', url: '/api/tokens', headers: { authorization: `Bearer ${secret}` } });
    expect(after.statusCode).toBe(401);
    const notYours = await app.inject({ method: 'DELETE', url: `/api/tokens/${ownTokenId}`, headers: { authorization: `Bearer ${t.stranger}` } });
    expect(notYours.statusCode).toBe(404);
  });

  it('says what is wrong and where for invalid input', async () => {
    const response = await app.inject({ method: 'POST', url: '/api/albums', headers: { authorization: `Bearer ${t.admin}` }, payload: { name: '', destructionDate: 'someday' } });
    expect(response.statusCode).toBe(400);
    const paths = (JSON.parse(response.body) as { error: { details: Array<{ path: string }> } }).error.details.map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['body.name', 'body.destructionDate']));
  });
});

describe('audit completeness', () => {
  it('writes exactly one entry per request, public routes excepted, and the chain verifies', async () => {
    const before = (await module.audit.query({ limit: 1000 })).length;
    const requests = [
      { method: 'GET' as const, url: '/api/albums', headers: { authorization: `Bearer ${t.good}` } },
      { method: 'GET' as const, url: '/api/albums' },
      { method: 'GET' as const, url: `/api/albums/${otherAlbumId}`, headers: { authorization: `Bearer ${t.good}` } },
      { method: 'GET' as const, url: '/no/such/route', headers: { authorization: `Bearer ${t.good}` } },
      { method: 'GET' as const, url: '/healthz' },
    ];
    for (const request of requests) await app.inject(request);
    const entries = await module.audit.query({ afterSeq: before, limit: 1000 });
    expect(entries.map((e) => [e.action, e.outcome, e.httpStatus])).toEqual([
      ['album.read', 'success', 200],
      ['auth.denied', 'denied', 401],
      ['auth.denied', 'denied', 403],
      ['request.other', 'failed', 404],
    ]);
    expect(entries[2]).toMatchObject({ albumId: otherAlbumId, detail: { attempted: 'album.read' } });
    await module.audit.checkpointNow();
    expect(await verifyAuditTrail(auditPaths(dataDir))).toMatchObject({ ok: true });
  });
});
