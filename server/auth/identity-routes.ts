import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AppError } from '../../shared/errors/app-error.js';
import { zodDetails } from '../../shared/ipc/envelope.js';
import type { SsoClientConfig } from '../../shared/domain/sso.js';
import type { DestructionCertificate, DestructionRequest } from '../destruction/destroy-album.js';
import { auditActions, auditOutcomes } from '../audit/audit-entry.js';
import type { AuditLog } from '../audit/audit-log.js';
import { requirePrincipal, type AccessRule, type Principal } from './access-control.js';
import type { Album, IdentityStore, Member, Token } from './identity-store.js';
import { memberFlagsSchema, tokenPermissionSchema } from '../../shared/domain/access.js';
import { parseExpiry } from './permissions.js';

function parse<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const result = schema.safeParse(value ?? {});
  if (!result.success) {
    throw new AppError(
      'INVALID_INPUT',
      zodDetails(result.error).map((detail) => ({ path: detail.path === '' ? where : `${where}.${detail.path}`, issue: detail.issue })),
    );
  }
  return result.data;
}

const uid = z.string().max(64).regex(/^[0-9]+(\.[0-9]+)*$/, 'is not a DICOM UID');
const isoDate = z.string().refine((value) => !Number.isNaN(new Date(value).getTime()), 'is not a date');
const albumParams = z.object({ album: z.string().uuid('is not an album id') });
const albumBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  description: z.string().max(4000).nullable().optional(),
  ethicsProtocol: z.string().max(200).nullable().optional(),
  approvalExpiry: isoDate.nullable().optional(),
  destructionDate: isoDate.nullable().optional(),
});
const tokenBody = z.strictObject({
  albumId: z.string().uuid().nullable().default(null),
  permissions: z.array(tokenPermissionSchema).min(1),
  kind: z.enum(['personal', 'machine']).default('personal'),
  label: z.string().max(200).nullable().default(null),
  notBefore: isoDate.nullable().default(null),
  expiresIn: z.string().max(40).optional(),
  expiresAt: isoDate.nullable().optional(),
});
const auditQuery = z.strictObject({
  actorId: z.string().max(256).optional(),
  action: z.enum(auditActions).optional(),
  outcome: z.enum(auditOutcomes).optional(),
  albumId: z.string().max(256).optional(),
  studyInstanceUID: uid.optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
  afterSeq: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

const dormantAfterDays = 90;

function tokenView(token: Token): Record<string, unknown> {
  return { ...token, state: token.revokedAt !== null ? 'revoked' : token.expiresAt !== null && new Date(token.expiresAt) <= new Date() ? 'expired' : 'active' };
}

function access(rule: AccessRule): { config: { access: AccessRule } } {
  return { config: { access: rule } };
}

/**
 * The identity API: albums, members, album contents and events, tokens, RFC 7662 introspection, the audit query
 * and the access review. Every route declares its access rule; the access-control hooks enforce and audit it.
 */
export function registerIdentityRoutes(
  app: FastifyInstance,
  deps: {
    identity: IdentityStore;
    audit: AuditLog;
    ssoClient?: SsoClientConfig | null;
    seriesExists?: (study: string, series: string) => Promise<boolean>;
    /** Modalities of a set of stored series (from the DICOM index), for the album list. */
    modalitiesOf?: (series: ReadonlyArray<{ studyInstanceUID: string; seriesInstanceUID: string }>) => Promise<string[]>;
    /** Present when the DICOM store is attached (see server/destruction). */
    destroyAlbum?: (request: DestructionRequest) => Promise<DestructionCertificate>;
  },
): void {
  const { identity, audit } = deps;

  // Public: which identity provider the workstation should use. Holds no data and no secret.
  app.get('/api/auth-config', access({ action: 'request.other', permission: null, public: true }), async () => ({ sso: deps.ssoClient ?? null }));

  /** The album route's album and membership, as access control already loaded and checked them. */
  const myAlbum = async (request: FastifyRequest): Promise<{ album: Album; member: Member | null; principal: Principal }> => {
    const principal = requirePrincipal(request);
    parse(albumParams, request.params, 'path');
    const access = request.albumAccess;
    if (access === null) throw new AppError('INTERNAL', [{ path: 'album', issue: 'album route without an album rule' }]);
    return { ...access, principal };
  };

  app.get('/api/me', access({ action: 'album.read', permission: null, allowAlbumTokens: true }), async (request) => {
    const principal = requirePrincipal(request);
    const { user } = principal;
    return {
      user: { id: user.id, name: user.name, email: user.email, isAdmin: user.isAdmin, issuer: user.issuer },
      token: principal.tokenId === null ? null : { id: principal.tokenId, albumScope: principal.albumScope, permissions: [...principal.permissions] },
    };
  });

  // Albums ----------------------------------------------------------------------------------------------------------
  app.get('/api/albums', access({ action: 'album.read', permission: 'read', allowAlbumTokens: true }), async (request) => {
    const principal = requirePrincipal(request);
    let albums = await identity.listAlbums(principal.user.isAdmin ? {} : { memberUserId: principal.user.id });
    if (principal.albumScope !== null) albums = albums.filter((album) => album.id === principal.albumScope);
    return Promise.all(albums.map(async (album) => {
      const series = await identity.listAlbumSeries(album.id);
      const lastEvent = await identity.lastEvent(album.id);
      return {
        ...album,
        studies: new Set(series.map((s) => s.studyInstanceUID)).size,
        series: series.length,
        modalities: deps.modalitiesOf === undefined ? [] : await deps.modalitiesOf(series),
        lastEvent,
      };
    }));
  });

  app.post('/api/albums', access({ action: 'album.create', permission: 'write' }), async (request, reply) => {
    const principal = requirePrincipal(request);
    if (principal.albumScope !== null) throw new AppError('FORBIDDEN', [{ path: 'token', issue: 'an album token cannot create albums' }]);
    const body = parse(albumBody, request.body, 'body');
    const album = await identity.createAlbum({ ...body, adminUserId: principal.user.id });
    request.auditNote.albumId = album.id;
    return reply.code(201).send(album);
  });

  app.get('/api/albums/:album', access({ action: 'album.read', permission: 'read', albumParam: 'album' }), async (request) => {
    const { album, member } = await myAlbum(request);
    return { ...album, me: member, series: await identity.listAlbumSeries(album.id) };
  });

  app.patch('/api/albums/:album', access({ action: 'album.update', permission: 'write', albumParam: 'album', albumAdmin: true }), async (request) => {
    const { album } = await myAlbum(request);
    return await identity.updateAlbum(album.id, parse(albumBody.partial(), request.body, 'body'));
  });

  app.get('/api/albums/:album/members', access({ action: 'album.read', permission: 'read', albumParam: 'album' }), async (request) => {
    const { album } = await myAlbum(request);
    return Promise.all((await identity.listMembers(album.id)).map(async (member) => ({ ...member, user: await publicUser(identity, member.userId) })));
  });

  app.put(
    '/api/albums/:album/members/:userId',
    access({ action: 'album.member-add', permission: 'write', albumParam: 'album', memberFlag: 'addUser' }),
    async (request) => {
      const { album, member, principal } = await myAlbum(request);
      const { userId } = parse(z.object({ userId: z.string().uuid() }), request.params, 'path');
      const body = parse(z.strictObject({ isAdmin: z.boolean().default(false), flags: memberFlagsSchema.partial().default({}) }), request.body, 'body');
      if (body.isAdmin && !(member?.isAdmin === true || principal.user.isAdmin)) {
        throw new AppError('FORBIDDEN', [{ path: 'body.isAdmin', issue: 'only album administrators can appoint administrators' }]);
      }
      if (await identity.getUser(userId) === null) throw new AppError('NOT_FOUND', [{ path: 'userId', issue: 'no such user (users appear after their first sign-in)' }]);
      return await identity.addMember(album.id, userId, body, principal.user.id);
    },
  );

  // Invite by e-mail (people who have signed in once) or by local user name (embedded default).
  app.post(
    '/api/albums/:album/members',
    access({ action: 'album.member-add', permission: 'write', albumParam: 'album', memberFlag: 'addUser' }),
    async (request, reply) => {
      const { album, member, principal } = await myAlbum(request);
      const body = parse(
        z.strictObject({ user: z.string().trim().min(1).max(320), isAdmin: z.boolean().default(false), flags: memberFlagsSchema.partial().default({}) }),
        request.body,
        'body',
      );
      if (body.isAdmin && !(member?.isAdmin === true || principal.user.isAdmin)) {
        throw new AppError('FORBIDDEN', [{ path: 'body.isAdmin', issue: 'only album administrators can appoint administrators' }]);
      }
      const invited = await identity.findUserByHandle(body.user);
      if (invited === null) throw new AppError('NOT_FOUND', [{ path: 'body.user', issue: 'nobody with this e-mail or user name has signed in to this server yet' }]);
      if (await identity.getMember(album.id, invited.id) !== null) throw new AppError('INVALID_INPUT', [{ path: 'body.user', issue: 'is already a member' }]);
      const added = await identity.addMember(album.id, invited.id, { isAdmin: body.isAdmin, flags: body.flags }, principal.user.id);
      return reply.code(201).send({ ...added, user: await publicUser(identity, invited.id) });
    },
  );

  // A study can leave the album earlier than the album's end (e.g. consent withdrawn): it is destroyed at that date.
  app.put(
    '/api/albums/:album/studies/:study/destruction-date',
    access({ action: 'album.update', permission: 'write', albumParam: 'album', albumAdmin: true }),
    async (request) => {
      const { album } = await myAlbum(request);
      const { study } = parse(z.object({ album: z.string(), study: uid }), request.params, 'path');
      const { date } = parse(z.strictObject({ date: isoDate }), request.body, 'body');
      if (!(await identity.listAlbumSeries(album.id)).some((s) => s.studyInstanceUID === study)) {
        throw new AppError('NOT_FOUND', [{ path: 'study', issue: 'this study is not in the album' }]);
      }
      await identity.setStudyDestructionDate(album.id, study, date);
      return { studyInstanceUID: study, destructionDate: date };
    },
  );

  if (deps.destroyAlbum !== undefined) {
    const destroy = deps.destroyAlbum;
    app.post(
      '/api/albums/:album/destroy',
      access({ action: 'album.destroy', permission: 'write', albumParam: 'album', albumAdmin: true }),
      async (request) => {
        const { album, principal } = await myAlbum(request);
        const body = parse(z.strictObject({ confirmName: z.string(), reason: z.string().trim().min(1).max(500) }), request.body, 'body');
        if (body.confirmName !== album.name) {
          throw new AppError('INVALID_INPUT', [{ path: 'body.confirmName', issue: 'type the album name exactly to confirm destruction' }]);
        }
        const certificate = await destroy({
          albumId: album.id,
          actorId: principal.user.id,
          tokenId: principal.tokenId,
          reason: body.reason,
          clientAddress: request.ip,
        });
        request.auditNote.detail = { certificateId: certificate.certificateId };
        return certificate;
      },
    );
  }

  app.delete('/api/albums/:album/members/:userId', access({ action: 'album.member-remove', permission: 'write', albumParam: 'album' }), async (request, reply) => {
    const { album, member, principal } = await myAlbum(request);
    const { userId } = parse(z.object({ userId: z.string().uuid() }), request.params, 'path');
    const leavingSelf = userId === principal.user.id;
    if (!leavingSelf && !(member?.isAdmin === true || principal.user.isAdmin)) {
      throw new AppError('FORBIDDEN', [{ path: 'album', issue: 'album administrators only' }]);
    }
    if (!await identity.removeMember(album.id, userId, principal.user.id)) throw new AppError('NOT_FOUND', [{ path: 'userId', issue: 'not a member' }]);
    return reply.code(204).send();
  });

  const seriesParams = z.object({ album: z.string().uuid(), study: uid, series: uid });
  app.put(
    '/api/albums/:album/series/:study/:series',
    access({ action: 'album.series-add', permission: 'write', albumParam: 'album', memberFlag: 'addSeries' }),
    async (request, reply) => {
      const { album, principal } = await myAlbum(request);
      const { study, series } = parse(seriesParams, request.params, 'path');
      if (deps.seriesExists !== undefined && !(await deps.seriesExists(study, series))) {
        throw new AppError('NOT_FOUND', [{ path: 'series', issue: 'the series is not stored on this server' }]);
      }
      const added = await identity.addSeries(album.id, study, series, principal.user.id);
      return reply.code(added ? 201 : 200).send({ added });
    },
  );

  app.delete(
    '/api/albums/:album/series/:study/:series',
    access({ action: 'album.series-remove', permission: 'write', albumParam: 'album', memberFlag: 'removeSeries' }),
    async (request, reply) => {
      const { album, principal } = await myAlbum(request);
      const { study, series } = parse(seriesParams, request.params, 'path');
      if (!await identity.removeSeries(album.id, study, series, principal.user.id)) throw new AppError('NOT_FOUND', [{ path: 'series', issue: 'not in this album' }]);
      return reply.code(204).send();
    },
  );

  app.get('/api/albums/:album/events', access({ action: 'album.read', permission: 'read', albumParam: 'album' }), async (request) => {
    const { album } = await myAlbum(request);
    const query = parse(z.object({ after: z.coerce.number().int().min(0).default(0), limit: z.coerce.number().int().min(1).max(1000).default(100) }), request.query, 'query');
    return await identity.listEvents(album.id, query.after, query.limit);
  });

  app.post(
    '/api/albums/:album/comments',
    access({ action: 'album.update', permission: 'write', albumParam: 'album', memberFlag: 'writeComments' }),
    async (request, reply) => {
      const { album, principal } = await myAlbum(request);
      const { text } = parse(z.strictObject({ text: z.string().trim().min(1).max(4000) }), request.body, 'body');
      await identity.addEvent(album.id, 'comment', principal.user.id, { text });
      return reply.code(201).send({ ok: true });
    },
  );

  app.get(
    '/api/albums/:album/access-review',
    access({ action: 'access-review.read', permission: 'read', albumParam: 'album', albumAdmin: true }),
    async (request, reply) => {
      const { album } = await myAlbum(request);
      const dormantBefore = Date.now() - dormantAfterDays * 86_400_000;
      const members = await Promise.all((await identity.listMembers(album.id)).map(async (member) => {
        const user = await identity.getUser(member.userId);
        const lastSeen = user?.lastSeenAt ?? null;
        return {
          userId: member.userId,
          name: user?.name ?? null,
          email: user?.email ?? null,
          role: member.isAdmin ? 'admin' : 'member',
          flags: member.flags,
          addedAt: member.addedAt,
          lastSeenAt: lastSeen,
          dormant: user?.disabled === true || lastSeen === null || new Date(lastSeen).getTime() < dormantBefore,
          tokens: (await identity.listTokens({ userId: member.userId })).filter((t) => t.albumId === null || t.albumId === album.id).map(tokenView),
        };
      }));
      const memberIds = new Set(members.map((m) => m.userId));
      const outsiders = (await identity.listTokens({ albumId: album.id })).filter((t) => !memberIds.has(t.userId)).map(tokenView);
      const report = { album: { id: album.id, name: album.name, ethicsProtocol: album.ethicsProtocol }, generatedAt: new Date().toISOString(), dormantAfterDays, members, tokensOfFormerMembers: outsiders };
      const { format } = parse(z.object({ format: z.enum(['json', 'csv']).default('json') }), request.query, 'query');
      if (format === 'json') return report;
      const rows = [['user_id', 'name', 'email', 'role', 'last_seen', 'dormant', 'token_id', 'token_state', 'token_permissions', 'token_last_used', 'token_expires']];
      for (const m of members) {
        const tokens = m.tokens.length === 0 ? [null] : m.tokens;
        for (const t of tokens) {
          rows.push([m.userId, m.name ?? '', m.email ?? '', m.role, m.lastSeenAt ?? '', String(m.dormant), String(t?.id ?? ''), String(t?.state ?? ''), t === null ? '' : (t.permissions as string[]).join(' '), String(t?.lastUsedAt ?? ''), String(t?.expiresAt ?? '')]);
        }
      }
      const csv = rows.map((row) => row.map((cell) => (/[",\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell)).join(',')).join('\n');
      return reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="access-review-${album.id}.csv"`).send(`${csv}\n`);
    },
  );

  // Tokens ----------------------------------------------------------------------------------------------------------
  app.get('/api/tokens', access({ action: 'token.introspect', permission: null, allowAlbumTokens: true }), async (request) => {
    const principal = requirePrincipal(request);
    return (await identity.listTokens({ userId: principal.user.id })).map(tokenView);
  });

  app.post('/api/tokens', access({ action: 'token.create', permission: null, allowAlbumTokens: true }), async (request, reply) => {
    const principal = requirePrincipal(request);
    const body = parse(tokenBody, request.body, 'body');
    // A token never mints more than it has: same album scope at most, a subset of its permissions.
    if (principal.albumScope !== null && body.albumId !== principal.albumScope) {
      throw new AppError('FORBIDDEN', [{ path: 'body.albumId', issue: 'an album token can only create tokens for its album' }]);
    }
    const extra = body.permissions.filter((permission) => !principal.permissions.has(permission));
    if (extra.length > 0) throw new AppError('FORBIDDEN', [{ path: 'body.permissions', issue: `your credential lacks ${extra.join(', ')}` }]);
    if (body.albumId !== null) {
      const album = await identity.getAlbum(body.albumId);
      const member = await identity.getMember(body.albumId, principal.user.id);
      if (album === null || album.destroyedAt !== null || (member === null && !principal.user.isAdmin)) {
        throw new AppError('FORBIDDEN', [{ path: 'body.albumId', issue: 'you are not a member of this album' }]);
      }
      request.auditNote.albumId = body.albumId;
    }
    let expiresAt: Date | null = body.expiresAt == null ? null : new Date(body.expiresAt);
    if (body.expiresIn !== undefined) {
      try {
        expiresAt = parseExpiry(body.expiresIn);
      } catch (error) {
        throw new AppError('INVALID_INPUT', [{ path: 'body.expiresIn', issue: error instanceof Error ? error.message : 'is not valid' }]);
      }
    }
    if (expiresAt !== null && expiresAt <= new Date()) throw new AppError('INVALID_INPUT', [{ path: 'body.expiresAt', issue: 'is in the past' }]);
    const { token, secret } = await identity.createToken({
      userId: principal.user.id,
      albumId: body.albumId,
      permissions: body.permissions,
      kind: body.kind,
      label: body.label,
      notBefore: body.notBefore === null ? null : new Date(body.notBefore),
      expiresAt,
    });
    request.auditNote.detail = { createdTokenId: token.id };
    // The secret is shown once, here, and never again.
    return reply.code(201).header('cache-control', 'no-store').send({ token: tokenView(token), secret });
  });

  app.delete('/api/tokens/:tokenId', access({ action: 'token.revoke', permission: null, allowAlbumTokens: true }), async (request, reply) => {
    const principal = requirePrincipal(request);
    const { tokenId } = parse(z.object({ tokenId: z.string().regex(/^[0-9a-f]{16}$/, 'is not a token id') }), request.params, 'path');
    const token = await identity.getToken(tokenId);
    const albumAdmin = token?.albumId != null && (await identity.getMember(token.albumId, principal.user.id))?.isAdmin === true;
    if (token === null || !(token.userId === principal.user.id || albumAdmin || principal.user.isAdmin)) {
      throw new AppError('NOT_FOUND', [{ path: 'tokenId', issue: 'no such token of yours' }]);
    }
    await identity.revokeToken(tokenId);
    request.auditNote.detail = { revokedTokenId: tokenId };
    return reply.code(204).send();
  });

  // RFC 7662: the caller must be authenticated; it learns about its own tokens only (admins: all).
  app.post('/oauth/introspect', access({ action: 'token.introspect', permission: null, allowAlbumTokens: true }), async (request) => {
    const principal = requirePrincipal(request);
    const { token: secret } = parse(z.object({ token: z.string().max(512), token_type_hint: z.string().optional() }), request.body, 'body');
    const check = await identity.authenticate(secret);
    if (!check.ok || (check.user.id !== principal.user.id && !principal.user.isAdmin)) return { active: false };
    return {
      active: true,
      scope: check.token.permissions.join(' '),
      client_id: check.token.kind,
      username: check.user.name ?? check.user.subject,
      sub: check.user.id,
      token_type: 'Bearer',
      iat: Math.floor(new Date(check.token.createdAt).getTime() / 1000),
      ...(check.token.expiresAt === null ? {} : { exp: Math.floor(new Date(check.token.expiresAt).getTime() / 1000) }),
      ...(check.token.notBefore === null ? {} : { nbf: Math.floor(new Date(check.token.notBefore).getTime() / 1000) }),
      ...(check.token.albumId === null ? {} : { album_id: check.token.albumId }),
    };
  });

  // Audit -----------------------------------------------------------------------------------------------------------
  app.get('/api/audit', access({ action: 'audit.query', permission: 'read', serverAdmin: true }), async (request) => {
    return await audit.query(parse(auditQuery, request.query, 'query'));
  });
}

async function publicUser(identity: IdentityStore, userId: string): Promise<{ id: string; name: string | null; email: string | null } | null> {
  const user = await identity.getUser(userId);
  return user === null ? null : { id: user.id, name: user.name, email: user.email };
}
