import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { MemberFlags, TokenPermission } from '../../shared/domain/access.js';
import { allMemberFlags, defaultMemberFlags } from './permissions.js';
import { newTokenSecret, secretMatchesHash, tokenIdOf } from './token-secret.js';
import { PostgresDb, SqliteDb, type SqlDb } from '../db/sql-db.js';

export interface User {
  readonly id: string;
  readonly issuer: string;
  readonly subject: string;
  readonly name: string | null;
  readonly email: string | null;
  readonly groups: readonly string[];
  readonly isAdmin: boolean;
  readonly disabled: boolean;
  readonly createdAt: string;
  readonly lastSeenAt: string | null;
}

export interface Token {
  readonly id: string;
  readonly userId: string;
  readonly albumId: string | null;
  readonly kind: 'personal' | 'machine';
  readonly label: string | null;
  readonly permissions: readonly TokenPermission[];
  readonly notBefore: string | null;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
  readonly lastUsedAt: string | null;
  readonly createdAt: string;
}

export interface Album {
  readonly id: string;
  readonly name: string;
  readonly description: string | null;
  readonly ethicsProtocol: string | null;
  readonly approvalExpiry: string | null;
  readonly destructionDate: string | null;
  readonly createdAt: string;
  readonly destroyedAt: string | null;
}

export interface Member {
  readonly albumId: string;
  readonly userId: string;
  readonly isAdmin: boolean;
  readonly flags: MemberFlags;
  readonly addedAt: string;
}

export interface AlbumEvent {
  readonly id: number;
  readonly albumId: string;
  readonly type: 'series-added' | 'series-removed' | 'member-added' | 'member-removed' | 'comment' | 'album-updated';
  readonly actorId: string | null;
  readonly time: string;
  readonly detail: Record<string, string | number | null>;
}

export type TokenCheck =
  | { readonly ok: true; readonly token: Token; readonly user: User }
  | { readonly ok: false; readonly reason: 'malformed' | 'unknown' | 'revoked' | 'expired' | 'not-yet-valid' | 'user-disabled'; readonly tokenId: string | null };

function schema(dialect: SqlDb['dialect']): string {
  const serial = dialect === 'postgres' ? 'BIGSERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT';
  return `
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY, issuer TEXT NOT NULL, subject TEXT NOT NULL, name TEXT, email TEXT, groups TEXT NOT NULL DEFAULT '[]',
  is_admin INTEGER NOT NULL DEFAULT 0, disabled INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, last_seen_at TEXT,
  UNIQUE (issuer, subject));
CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL, user_id TEXT NOT NULL REFERENCES users(id), album_id TEXT,
  kind TEXT NOT NULL, label TEXT, permissions TEXT NOT NULL, not_before TEXT, expires_at TEXT, revoked_at TEXT,
  last_used_at TEXT, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS tokens_by_user ON tokens (user_id);
CREATE INDEX IF NOT EXISTS tokens_by_album ON tokens (album_id);
CREATE TABLE IF NOT EXISTS albums (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT, ethics_protocol TEXT, approval_expiry TEXT,
  destruction_date TEXT, created_at TEXT NOT NULL, destroyed_at TEXT, destruction_claimed_at TEXT);
CREATE TABLE IF NOT EXISTS album_members (
  album_id TEXT NOT NULL REFERENCES albums(id), user_id TEXT NOT NULL REFERENCES users(id), is_admin INTEGER NOT NULL,
  flags TEXT NOT NULL, added_at TEXT NOT NULL, PRIMARY KEY (album_id, user_id));
CREATE TABLE IF NOT EXISTS album_series (
  album_id TEXT NOT NULL REFERENCES albums(id), study_uid TEXT NOT NULL, series_uid TEXT NOT NULL, added_by TEXT,
  added_at TEXT NOT NULL, PRIMARY KEY (album_id, study_uid, series_uid));
CREATE INDEX IF NOT EXISTS album_series_by_series ON album_series (study_uid, series_uid);
CREATE TABLE IF NOT EXISTS album_study_retention (
  album_id TEXT NOT NULL REFERENCES albums(id), study_uid TEXT NOT NULL, destruction_date TEXT NOT NULL,
  claimed_at TEXT, destroyed_at TEXT, PRIMARY KEY (album_id, study_uid));
CREATE TABLE IF NOT EXISTS album_events (
  id ${serial}, album_id TEXT NOT NULL, type TEXT NOT NULL, actor_id TEXT, time TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS album_events_by_album ON album_events (album_id, id);
`;
}

type Row = Record<string, unknown>;
const str = (value: unknown): string => String(value);
const strOrNull = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));

function userFromRow(row: Row): User {
  return {
    id: str(row.id),
    issuer: str(row.issuer),
    subject: str(row.subject),
    name: strOrNull(row.name),
    email: strOrNull(row.email),
    groups: JSON.parse(str(row.groups)) as string[],
    isAdmin: row.is_admin === 1,
    disabled: row.disabled === 1,
    createdAt: str(row.created_at),
    lastSeenAt: strOrNull(row.last_seen_at),
  };
}

function tokenFromRow(row: Row): Token {
  return {
    id: str(row.id),
    userId: str(row.user_id),
    albumId: strOrNull(row.album_id),
    kind: row.kind === 'machine' ? 'machine' : 'personal',
    label: strOrNull(row.label),
    permissions: JSON.parse(str(row.permissions)) as TokenPermission[],
    notBefore: strOrNull(row.not_before),
    expiresAt: strOrNull(row.expires_at),
    revokedAt: strOrNull(row.revoked_at),
    lastUsedAt: strOrNull(row.last_used_at),
    createdAt: str(row.created_at),
  };
}

function albumFromRow(row: Row): Album {
  return {
    id: str(row.id),
    name: str(row.name),
    description: strOrNull(row.description),
    ethicsProtocol: strOrNull(row.ethics_protocol),
    approvalExpiry: strOrNull(row.approval_expiry),
    destructionDate: strOrNull(row.destruction_date),
    createdAt: str(row.created_at),
    destroyedAt: strOrNull(row.destroyed_at),
  };
}

function memberFromRow(row: Row): Member {
  return {
    albumId: str(row.album_id),
    userId: str(row.user_id),
    isAdmin: row.is_admin === 1,
    flags: { ...defaultMemberFlags, ...(JSON.parse(str(row.flags)) as Partial<MemberFlags>) },
    addedAt: str(row.added_at),
  };
}

function eventFromRow(row: Row): AlbumEvent {
  return {
    id: Number(row.id),
    albumId: str(row.album_id),
    type: str(row.type) as AlbumEvent['type'],
    actorId: strOrNull(row.actor_id),
    time: str(row.time),
    detail: JSON.parse(str(row.detail)) as AlbumEvent['detail'],
  };
}

/** How often a token's last use is written at most (reads are hot; the review needs minutes, not milliseconds). */
const lastUseResolutionMs = 60_000;

/** Advisory lock id that serialises schema creation across replicas. */
const schemaLock = 4242101;

/**
 * Users, tokens, albums, members and album contents, in SQLite (embedded default) or PostgreSQL (several replicas:
 * no state in process memory). Nothing is open by default: a request is anonymous until a token or an OIDC bearer
 * names a user.
 */
export class IdentityStore {
  readonly #db: SqlDb;

  private constructor(db: SqlDb) {
    this.#db = db;
  }

  /** SQLite in the data folder, or PostgreSQL when `databaseUrl` is given. */
  static async open(options: { dataDir: string; databaseUrl?: string | undefined }): Promise<IdentityStore> {
    let db: SqlDb;
    if (options.databaseUrl !== undefined) {
      db = new PostgresDb(options.databaseUrl);
    } else {
      const file = join(options.dataDir, 'identity', 'identity.sqlite');
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      db = new SqliteDb(file);
    }
    await db.transaction(
      async (tx) => {
        await tx.exec(schema(db.dialect));
        // Folders created before scheduled destruction existed get its column.
        const columns = db.dialect === 'postgres'
          ? await tx.all("SELECT column_name AS name FROM information_schema.columns WHERE table_name = 'albums'")
          : await tx.all('PRAGMA table_info(albums)');
        if (!columns.some((column) => column.name === 'destruction_claimed_at')) await tx.exec('ALTER TABLE albums ADD COLUMN destruction_claimed_at TEXT');
      },
      { lock: schemaLock },
    );
    return new IdentityStore(db);
  }

  close(): Promise<void> {
    return this.#db.close();
  }

  // Users -----------------------------------------------------------------------------------------------------------

  /** A local user (embedded default, created by the admin CLI), found or created by name. */
  ensureLocalUser(name: string, options: { isAdmin?: boolean } = {}): Promise<User> {
    return this.provisionUser({ issuer: 'local', subject: name, name, email: null, groups: [], ...options });
  }

  /** Creates or refreshes a user from identity claims (OIDC: iss + sub; name, e-mail and groups are refreshed). */
  async provisionUser(claims: { issuer: string; subject: string; name: string | null; email: string | null; groups: readonly string[]; isAdmin?: boolean }): Promise<User> {
    const greatest = this.#db.dialect === 'postgres' ? 'GREATEST' : 'MAX';
    await this.#db.run(
      `INSERT INTO users (id, issuer, subject, name, email, groups, is_admin, created_at, last_seen_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)
       ON CONFLICT (issuer, subject) DO UPDATE SET name = excluded.name, email = excluded.email, groups = excluded.groups,
         is_admin = ${greatest}(users.is_admin, excluded.is_admin)`,
      [randomUUID(), claims.issuer, claims.subject, claims.name, claims.email, JSON.stringify(claims.groups), claims.isAdmin === true ? 1 : 0, new Date().toISOString()],
    );
    return userFromRow((await this.#db.get('SELECT * FROM users WHERE issuer = ? AND subject = ?', [claims.issuer, claims.subject])) as Row);
  }

  async getUser(id: string): Promise<User | null> {
    const row = await this.#db.get('SELECT * FROM users WHERE id = ?', [id]);
    return row === undefined ? null : userFromRow(row);
  }

  async findUser(issuer: string, subject: string): Promise<User | null> {
    const row = await this.#db.get('SELECT * FROM users WHERE issuer = ? AND subject = ?', [issuer, subject]);
    return row === undefined ? null : userFromRow(row);
  }

  /** Finds a user to invite by e-mail (any issuer) or by local user name; exact, case-insensitive. */
  async findUserByHandle(handle: string): Promise<User | null> {
    const value = handle.trim();
    const row = await this.#db.get(
      "SELECT * FROM users WHERE lower(email) = lower(?) OR (issuer = 'local' AND lower(subject) = lower(?)) ORDER BY created_at LIMIT 1",
      [value, value],
    );
    return row === undefined ? null : userFromRow(row);
  }

  async touchUser(id: string, at: Date = new Date()): Promise<void> {
    await this.#db.run('UPDATE users SET last_seen_at = ? WHERE id = ? AND (last_seen_at IS NULL OR last_seen_at < ?)', [
      at.toISOString(),
      id,
      new Date(at.getTime() - lastUseResolutionMs).toISOString(),
    ]);
  }

  async setUserDisabled(id: string, disabled: boolean): Promise<void> {
    await this.#db.run('UPDATE users SET disabled = ? WHERE id = ?', [disabled ? 1 : 0, id]);
  }

  // Tokens ----------------------------------------------------------------------------------------------------------

  async createToken(input: {
    userId: string;
    albumId: string | null;
    permissions: readonly TokenPermission[];
    kind?: 'personal' | 'machine';
    label?: string | null;
    notBefore?: Date | null;
    expiresAt?: Date | null;
  }): Promise<{ token: Token; secret: string }> {
    const { id, secret, hash } = newTokenSecret();
    await this.#db.run(
      `INSERT INTO tokens (id, secret_hash, user_id, album_id, kind, label, permissions, not_before, expires_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        id,
        hash,
        input.userId,
        input.albumId,
        input.kind ?? 'personal',
        input.label ?? null,
        JSON.stringify([...new Set(input.permissions)]),
        input.notBefore?.toISOString() ?? null,
        input.expiresAt?.toISOString() ?? null,
        new Date().toISOString(),
      ],
    );
    return { token: (await this.getToken(id)) as Token, secret };
  }

  async getToken(id: string): Promise<Token | null> {
    const row = await this.#db.get('SELECT * FROM tokens WHERE id = ?', [id]);
    return row === undefined ? null : tokenFromRow(row);
  }

  async listTokens(filter: { userId?: string; albumId?: string }): Promise<Token[]> {
    const rows = await this.#db.all(
      'SELECT * FROM tokens WHERE (CAST(? AS TEXT) IS NULL OR user_id = ?) AND (CAST(? AS TEXT) IS NULL OR album_id = ?) ORDER BY created_at',
      [filter.userId ?? null, filter.userId ?? null, filter.albumId ?? null, filter.albumId ?? null],
    );
    return rows.map(tokenFromRow);
  }

  /** Revokes by id or by the secret itself; true when a live token was revoked. */
  async revokeToken(idOrSecret: string, at: Date = new Date()): Promise<boolean> {
    const id = tokenIdOf(idOrSecret) ?? idOrSecret;
    return (await this.#db.run('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [at.toISOString(), id])) === 1;
  }

  /** Checks a presented secret: known, matching, not revoked, within its validity, its user enabled. */
  async authenticate(secret: string, now: Date = new Date()): Promise<TokenCheck> {
    const id = tokenIdOf(secret);
    if (id === null) return { ok: false, reason: 'malformed', tokenId: null };
    const row = await this.#db.get('SELECT * FROM tokens WHERE id = ?', [id]);
    if (row === undefined || !secretMatchesHash(secret, str(row.secret_hash))) return { ok: false, reason: 'unknown', tokenId: null };
    const token = tokenFromRow(row);
    if (token.revokedAt !== null) return { ok: false, reason: 'revoked', tokenId: id };
    if (token.notBefore !== null && now < new Date(token.notBefore)) return { ok: false, reason: 'not-yet-valid', tokenId: id };
    if (token.expiresAt !== null && now >= new Date(token.expiresAt)) return { ok: false, reason: 'expired', tokenId: id };
    const user = await this.getUser(token.userId);
    if (user === null || user.disabled) return { ok: false, reason: 'user-disabled', tokenId: id };
    await this.#db.run('UPDATE tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)', [
      now.toISOString(),
      id,
      new Date(now.getTime() - lastUseResolutionMs).toISOString(),
    ]);
    await this.touchUser(user.id, now);
    return { ok: true, token, user };
  }

  // Albums ----------------------------------------------------------------------------------------------------------

  async createAlbum(input: {
    name: string;
    description?: string | null | undefined;
    ethicsProtocol?: string | null | undefined;
    approvalExpiry?: string | null | undefined;
    destructionDate?: string | null | undefined;
    adminUserId?: string | null | undefined;
  }): Promise<Album> {
    const id = randomUUID();
    const now = new Date().toISOString();
    await this.#db.transaction(async (tx) => {
      await tx.run('INSERT INTO albums (id, name, description, ethics_protocol, approval_expiry, destruction_date, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
        id,
        input.name,
        input.description ?? null,
        input.ethicsProtocol ?? null,
        input.approvalExpiry ?? null,
        input.destructionDate ?? null,
        now,
      ]);
      if (input.adminUserId != null) await this.#addMember(tx, id, input.adminUserId, { isAdmin: true, flags: allMemberFlags }, input.adminUserId);
    });
    return (await this.getAlbum(id)) as Album;
  }

  async getAlbum(id: string): Promise<Album | null> {
    const row = await this.#db.get('SELECT * FROM albums WHERE id = ?', [id]);
    return row === undefined ? null : albumFromRow(row);
  }

  async listAlbums(filter: { memberUserId?: string; includeDestroyed?: boolean } = {}): Promise<Album[]> {
    const rows = await this.#db.all(
      `SELECT a.* FROM albums a
       WHERE (CAST(? AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM album_members m WHERE m.album_id = a.id AND m.user_id = ?))
         AND (CAST(? AS INTEGER) = 1 OR a.destroyed_at IS NULL)
       ORDER BY a.name`,
      [filter.memberUserId ?? null, filter.memberUserId ?? null, filter.includeDestroyed === true ? 1 : 0],
    );
    return rows.map(albumFromRow);
  }

  async updateAlbum(
    id: string,
    patch: { readonly [K in 'name' | 'description' | 'ethicsProtocol' | 'approvalExpiry' | 'destructionDate']?: Album[K] | undefined },
  ): Promise<Album | null> {
    const current = await this.getAlbum(id);
    if (current === null) return null;
    const next = { ...current, ...Object.fromEntries(Object.entries(patch).filter((entry) => entry[1] !== undefined)) };
    await this.#db.run('UPDATE albums SET name = ?, description = ?, ethics_protocol = ?, approval_expiry = ?, destruction_date = ? WHERE id = ?', [
      next.name,
      next.description,
      next.ethicsProtocol,
      next.approvalExpiry,
      next.destructionDate,
      id,
    ]);
    return this.getAlbum(id);
  }

  /** Albums whose destruction date has come (the day has started, UTC) and that are not destroyed yet. */
  async albumsDueForDestruction(now: Date = new Date()): Promise<Album[]> {
    const today = now.toISOString().slice(0, 10);
    const rows = await this.#db.all(
      'SELECT * FROM albums WHERE destroyed_at IS NULL AND destruction_date IS NOT NULL AND substr(destruction_date, 1, 10) <= ? ORDER BY destruction_date',
      [today],
    );
    return rows.map(albumFromRow);
  }

  /**
   * Claims an album for destruction so that one replica does it; a claim older than `staleAfterMs` (a replica that
   * died mid-way) can be taken over, and destruction is idempotent.
   */
  async claimDestruction(id: string, now: Date = new Date(), staleAfterMs = 3_600_000): Promise<boolean> {
    const stale = new Date(now.getTime() - staleAfterMs).toISOString();
    return (
      (await this.#db.run(
        'UPDATE albums SET destruction_claimed_at = ? WHERE id = ? AND destroyed_at IS NULL AND (destruction_claimed_at IS NULL OR destruction_claimed_at < ?)',
        [now.toISOString(), id, stale],
      )) === 1
    );
  }

  /** A study's own destruction date in an album (earlier than the album's, e.g. consent withdrawn). */
  async setStudyDestructionDate(albumId: string, studyInstanceUID: string, date: string): Promise<void> {
    await this.#db.run(
      `INSERT INTO album_study_retention (album_id, study_uid, destruction_date) VALUES (?, ?, ?)
       ON CONFLICT (album_id, study_uid) DO UPDATE SET destruction_date = excluded.destruction_date, destroyed_at = NULL, claimed_at = NULL`,
      [albumId, studyInstanceUID, date],
    );
  }

  async studiesDueForDestruction(now: Date = new Date()): Promise<Array<{ albumId: string; studyInstanceUID: string; destructionDate: string }>> {
    const rows = await this.#db.all(
      `SELECT r.album_id, r.study_uid, r.destruction_date FROM album_study_retention r JOIN albums a ON a.id = r.album_id
       WHERE r.destroyed_at IS NULL AND a.destroyed_at IS NULL AND substr(r.destruction_date, 1, 10) <= ? ORDER BY r.destruction_date`,
      [now.toISOString().slice(0, 10)],
    );
    return rows.map((row) => ({ albumId: str(row.album_id), studyInstanceUID: str(row.study_uid), destructionDate: str(row.destruction_date) }));
  }

  async claimStudyDestruction(albumId: string, studyInstanceUID: string, now: Date = new Date(), staleAfterMs = 3_600_000): Promise<boolean> {
    const stale = new Date(now.getTime() - staleAfterMs).toISOString();
    return (
      (await this.#db.run(
        'UPDATE album_study_retention SET claimed_at = ? WHERE album_id = ? AND study_uid = ? AND destroyed_at IS NULL AND (claimed_at IS NULL OR claimed_at < ?)',
        [now.toISOString(), albumId, studyInstanceUID, stale],
      )) === 1
    );
  }

  async markStudyDestroyed(albumId: string, studyInstanceUID: string, at: Date = new Date()): Promise<void> {
    await this.#db.run('UPDATE album_study_retention SET destroyed_at = ? WHERE album_id = ? AND study_uid = ?', [at.toISOString(), albumId, studyInstanceUID]);
  }

  async markAlbumDestroyed(id: string, at: Date = new Date()): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await tx.run('UPDATE albums SET destroyed_at = ? WHERE id = ?', [at.toISOString(), id]);
      await tx.run('DELETE FROM album_series WHERE album_id = ?', [id]);
      await tx.run('UPDATE tokens SET revoked_at = ? WHERE album_id = ? AND revoked_at IS NULL', [at.toISOString(), id]);
    });
  }

  async #addMember(
    db: SqlDb,
    albumId: string,
    userId: string,
    options: { isAdmin?: boolean; flags?: { readonly [F in keyof MemberFlags]?: boolean | undefined } },
    actorId: string | null,
  ): Promise<void> {
    const given = Object.fromEntries(Object.entries(options.flags ?? {}).filter((entry) => entry[1] !== undefined));
    const flags = { ...defaultMemberFlags, ...given };
    await db.run(
      `INSERT INTO album_members (album_id, user_id, is_admin, flags, added_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (album_id, user_id) DO UPDATE SET is_admin = excluded.is_admin, flags = excluded.flags`,
      [albumId, userId, options.isAdmin === true ? 1 : 0, JSON.stringify(flags), new Date().toISOString()],
    );
    await this.#addEvent(db, albumId, 'member-added', actorId, { userId });
  }

  async addMember(
    albumId: string,
    userId: string,
    options: { isAdmin?: boolean; flags?: { readonly [F in keyof MemberFlags]?: boolean | undefined } } = {},
    actorId: string | null = null,
  ): Promise<Member> {
    await this.#db.transaction((tx) => this.#addMember(tx, albumId, userId, options, actorId));
    return (await this.getMember(albumId, userId)) as Member;
  }

  async removeMember(albumId: string, userId: string, actorId: string | null = null): Promise<boolean> {
    return this.#db.transaction(async (tx) => {
      const removed = (await tx.run('DELETE FROM album_members WHERE album_id = ? AND user_id = ?', [albumId, userId])) === 1;
      if (removed) await this.#addEvent(tx, albumId, 'member-removed', actorId, { userId });
      return removed;
    });
  }

  async getMember(albumId: string, userId: string): Promise<Member | null> {
    const row = await this.#db.get('SELECT * FROM album_members WHERE album_id = ? AND user_id = ?', [albumId, userId]);
    return row === undefined ? null : memberFromRow(row);
  }

  async listMembers(albumId: string): Promise<Member[]> {
    return (await this.#db.all('SELECT * FROM album_members WHERE album_id = ? ORDER BY added_at', [albumId])).map(memberFromRow);
  }

  async addSeries(albumId: string, studyInstanceUID: string, seriesInstanceUID: string, actorId: string | null = null): Promise<boolean> {
    return this.#db.transaction(async (tx) => {
      const added =
        (await tx.run(
          'INSERT INTO album_series (album_id, study_uid, series_uid, added_by, added_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
          [albumId, studyInstanceUID, seriesInstanceUID, actorId, new Date().toISOString()],
        )) === 1;
      if (added) await this.#addEvent(tx, albumId, 'series-added', actorId, { studyInstanceUID, seriesInstanceUID });
      return added;
    });
  }

  async removeSeries(albumId: string, studyInstanceUID: string, seriesInstanceUID: string, actorId: string | null = null): Promise<boolean> {
    return this.#db.transaction(async (tx) => {
      const removed = (await tx.run('DELETE FROM album_series WHERE album_id = ? AND study_uid = ? AND series_uid = ?', [albumId, studyInstanceUID, seriesInstanceUID])) === 1;
      if (removed) await this.#addEvent(tx, albumId, 'series-removed', actorId, { studyInstanceUID, seriesInstanceUID });
      return removed;
    });
  }

  async listAlbumSeries(albumId: string): Promise<Array<{ studyInstanceUID: string; seriesInstanceUID: string; addedAt: string }>> {
    const rows = await this.#db.all('SELECT study_uid, series_uid, added_at FROM album_series WHERE album_id = ? ORDER BY study_uid, series_uid', [albumId]);
    return rows.map((row) => ({ studyInstanceUID: str(row.study_uid), seriesInstanceUID: str(row.series_uid), addedAt: str(row.added_at) }));
  }

  /** Albums (not destroyed) that hold a series: a series in no other album is destroyed with its last album. */
  async albumsHoldingSeries(studyInstanceUID: string, seriesInstanceUID: string): Promise<string[]> {
    const rows = await this.#db.all(
      `SELECT s.album_id FROM album_series s JOIN albums a ON a.id = s.album_id
       WHERE s.study_uid = ? AND s.series_uid = ? AND a.destroyed_at IS NULL`,
      [studyInstanceUID, seriesInstanceUID],
    );
    return rows.map((row) => str(row.album_id));
  }

  async isSeriesInAlbum(albumId: string, studyInstanceUID: string, seriesInstanceUID: string): Promise<boolean> {
    return (await this.#db.get('SELECT 1 AS present FROM album_series WHERE album_id = ? AND study_uid = ? AND series_uid = ?', [albumId, studyInstanceUID, seriesInstanceUID])) !== undefined;
  }

  async #addEvent(db: SqlDb, albumId: string, type: AlbumEvent['type'], actorId: string | null, detail: AlbumEvent['detail']): Promise<void> {
    await db.run('INSERT INTO album_events (album_id, type, actor_id, time, detail) VALUES (?, ?, ?, ?, ?)', [albumId, type, actorId, new Date().toISOString(), JSON.stringify(detail)]);
  }

  addEvent(albumId: string, type: AlbumEvent['type'], actorId: string | null, detail: AlbumEvent['detail']): Promise<void> {
    return this.#addEvent(this.#db, albumId, type, actorId, detail);
  }

  async listEvents(albumId: string, afterId = 0, limit = 100): Promise<AlbumEvent[]> {
    const rows = await this.#db.all('SELECT * FROM album_events WHERE album_id = ? AND id > ? ORDER BY id LIMIT ?', [albumId, afterId, Math.min(limit, 1000)]);
    return rows.map(eventFromRow);
  }

  async lastEvent(albumId: string): Promise<AlbumEvent | null> {
    const row = await this.#db.get('SELECT * FROM album_events WHERE album_id = ? ORDER BY id DESC LIMIT 1', [albumId]);
    return row === undefined ? null : eventFromRow(row);
  }
}
