import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { IdentityStore } from './identity-store.js';
import { parseExpiry, parsePermissionList } from './permissions.js';
import { hashTokenSecret } from './token-secret.js';

let store: IdentityStore;
beforeEach(async () => {
  store = await IdentityStore.open({ dataDir: await mkdtemp(join(tmpdir(), 'paradim-identity-')) });
});

describe('tokens', () => {
  it('shows the secret once, stores only its hash, and authenticates it', async () => {
    const user = await store.ensureLocalUser('alice');
    const { token, secret } = await store.createToken({ userId: user.id, albumId: null, permissions: ['read', 'read', 'download'] });
    expect(secret).toMatch(/^pdw_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(token.permissions).toEqual(['read', 'download']);
    expect(JSON.stringify(await store.getToken(token.id))).not.toContain(secret.slice(-20));
    const check = await store.authenticate(secret);
    expect(check).toMatchObject({ ok: true, token: { id: token.id }, user: { id: user.id, subject: 'alice' } });
    expect((await store.getToken(token.id))?.lastUsedAt).not.toBeNull();
    expect(hashTokenSecret(secret)).toHaveLength(64);
  });

  it('refuses unknown, altered, revoked, expired, not-yet-valid tokens and disabled users', async () => {
    const user = await store.ensureLocalUser('bob');
    const now = new Date('2026-11-25T12:00:00Z');
    const live = await store.createToken({ userId: user.id, albumId: null, permissions: ['read'] });
    expect(await store.authenticate('Bearer nonsense', now)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(await store.authenticate(`${live.secret.slice(0, -1)}${live.secret.endsWith('A') ? 'B' : 'A'}`, now)).toMatchObject({ ok: false, reason: 'unknown' });
    const expired = await store.createToken({ userId: user.id, albumId: null, permissions: ['read'], expiresAt: new Date('2026-11-25T11:59:59Z') });
    expect(await store.authenticate(expired.secret, now)).toMatchObject({ ok: false, reason: 'expired', tokenId: expired.token.id });
    const future = await store.createToken({ userId: user.id, albumId: null, permissions: ['read'], notBefore: new Date('2026-11-26T00:00:00Z') });
    expect(await store.authenticate(future.secret, now)).toMatchObject({ ok: false, reason: 'not-yet-valid' });
    expect(await store.revokeToken(live.secret)).toBe(true);
    expect(await store.revokeToken(live.token.id)).toBe(false);
    expect(await store.authenticate(live.secret, now)).toMatchObject({ ok: false, reason: 'revoked' });
    const other = await store.createToken({ userId: user.id, albumId: null, permissions: ['read'] });
    await store.setUserDisabled(user.id, true);
    expect(await store.authenticate(other.secret, now)).toMatchObject({ ok: false, reason: 'user-disabled' });
  });

  it('parses permission lists and expiries strictly', async () => {
    expect(parsePermissionList('read, write,download')).toEqual(['read', 'write', 'download']);
    expect(() => parsePermissionList('read,admin')).toThrow(/read, write, download/);
    expect(() => parsePermissionList('')).toThrow();
    const now = new Date('2026-01-01T00:00:00Z');
    expect(parseExpiry('7d', now).toISOString()).toBe('2026-01-08T00:00:00.000Z');
    expect(parseExpiry('90m', now).toISOString()).toBe('2026-01-01T01:30:00.000Z');
    expect(parseExpiry('2027-03-01T00:00:00Z', now).toISOString()).toBe('2027-03-01T00:00:00.000Z');
    expect(() => parseExpiry('soon', now)).toThrow(/7d, 12h/);
  });
});

describe('users', () => {
  it('provisions OIDC users from claims and refreshes them without duplicating', async () => {
    const first = await store.provisionUser({ issuer: 'https://idp.example/t', subject: 's-1', name: 'Dr A', email: 'a@h.example', groups: ['radiology'] });
    const again = await store.provisionUser({ issuer: 'https://idp.example/t', subject: 's-1', name: 'Dr A B', email: 'a@h.example', groups: [] });
    expect(again.id).toBe(first.id);
    expect(again).toMatchObject({ name: 'Dr A B', groups: [] });
    expect((await store.provisionUser({ issuer: 'https://other.example', subject: 's-1', name: null, email: null, groups: [] })).id).not.toBe(first.id);
  });
});

describe('albums', () => {
  it('tracks members with flags, series and an event feed', async () => {
    const admin = await store.ensureLocalUser('steward');
    const reader = await store.ensureLocalUser('radiologist');
    const album = await store.createAlbum({ name: 'Lung CT 2026', ethicsProtocol: 'MP-02-2026-123', destructionDate: '2031-12-31', adminUserId: admin.id });
    expect(await store.getMember(album.id, admin.id)).toMatchObject({ isAdmin: true, flags: { addUser: true } });
    await store.addMember(album.id, reader.id, { flags: { download: false } }, admin.id);
    expect(await store.getMember(album.id, reader.id)).toMatchObject({ isAdmin: false, flags: { download: false, addSeries: true } });
    expect(await store.addSeries(album.id, '1.2.3', '1.2.3.4', admin.id)).toBe(true);
    expect(await store.addSeries(album.id, '1.2.3', '1.2.3.4', admin.id)).toBe(false);
    expect(await store.isSeriesInAlbum(album.id, '1.2.3', '1.2.3.4')).toBe(true);
    expect(await store.albumsHoldingSeries('1.2.3', '1.2.3.4')).toEqual([album.id]);
    expect((await store.listAlbums({ memberUserId: reader.id })).map((a) => a.name)).toEqual(['Lung CT 2026']);
    expect(await store.listAlbums({ memberUserId: (await store.ensureLocalUser('stranger')).id })).toEqual([]);
    expect((await store.listEvents(album.id)).map((e) => e.type)).toEqual(['member-added', 'member-added', 'series-added']);
  });

  it('destroying an album empties it and revokes its tokens', async () => {
    const admin = await store.ensureLocalUser('steward');
    const album = await store.createAlbum({ name: 'Ends soon', adminUserId: admin.id });
    await store.addSeries(album.id, '1.2.3', '1.2.3.4');
    const scoped = await store.createToken({ userId: admin.id, albumId: album.id, permissions: ['read'] });
    await store.markAlbumDestroyed(album.id);
    expect((await store.getAlbum(album.id))?.destroyedAt).not.toBeNull();
    expect(await store.listAlbumSeries(album.id)).toEqual([]);
    expect(await store.authenticate(scoped.secret)).toMatchObject({ ok: false, reason: 'revoked' });
    expect(await store.listAlbums()).toEqual([]);
  });
});
