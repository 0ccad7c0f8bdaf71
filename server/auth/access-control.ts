import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../shared/errors/app-error.js';
import { toWireError } from '../../shared/ipc/envelope.js';
import type { AuditAction, AuditEvent } from '../audit/audit-entry.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Album, IdentityStore, Member, User } from './identity-store.js';
import { looksLikeJwt, type OidcVerifier } from './oidc-verifier.js';
import { tokenPermissions, type MemberFlag, type TokenPermission } from '../../shared/domain/access.js';
import { looksLikeTokenSecret } from './token-secret.js';
import type { RequestActivity } from './request-activity.js';

/** Who is calling, established once per request from its bearer credential. */
export interface Principal {
  readonly user: User;
  /** Id of the PARADIM token used, null for an OIDC bearer. */
  readonly tokenId: string | null;
  /** A token scoped to one album reaches that album only. */
  readonly albumScope: string | null;
  readonly permissions: ReadonlySet<TokenPermission>;
  readonly via: 'token' | 'oidc';
}

/**
 * Every route declares its access rule in its config; a route without one is refused (nothing is open by default).
 * `public` routes (health) are neither authenticated nor audited.
 */
export interface AccessRule {
  readonly action: AuditAction;
  readonly public?: boolean;
  /** Token permission the call needs; null = any authenticated caller. */
  readonly permission: TokenPermission | null;
  /** Route parameter holding the album id: the caller must be a member (or a server admin). */
  readonly albumParam?: string;
  /** Member flag needed in that album (album admins have all). */
  readonly memberFlag?: MemberFlag;
  /** Album admins only (server admins too). */
  readonly albumAdmin?: boolean;
  /** Server administrators only. */
  readonly serverAdmin?: boolean;
  /**
   * Routes without an album parameter refuse album-scoped tokens unless they allow them and narrow the answer to
   * the token's album themselves (e.g. the album list, the caller's own tokens).
   */
  readonly allowAlbumTokens?: boolean;
}

/** What a handler adds to its audit entry: the UIDs it touched and short counts. */
export interface AuditNote {
  studyInstanceUID?: string | null;
  seriesInstanceUID?: string | null;
  sopInstanceUID?: string | null;
  albumId?: string | null;
  detail?: Record<string, string | number | boolean | null>;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    authFailure: string | null;
    auditNote: AuditNote;
    /** Ends this request's count in RequestActivity (at its audit entry, or when it ends without one). */
    endWork: (() => void) | null;
    /** The album the route names and the caller's membership, as access control checked them (album routes only). */
    albumAccess: { album: Album; member: Member | null } | null;
  }
  interface FastifyContextConfig {
    access?: AccessRule;
  }
}

const uidPattern = /^[0-9]+(\.[0-9]+)*$/;

function uidParam(params: unknown, names: readonly string[]): string | null {
  if (typeof params !== 'object' || params === null) return null;
  for (const name of names) {
    const value = (params as Record<string, unknown>)[name];
    if (typeof value === 'string' && value.length <= 64 && uidPattern.test(value)) return value;
  }
  return null;
}

function bearerOf(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

/**
 * Authentication, authorization and the audit trail for every route of the server.
 * Order per request: onRequest establishes the principal and enforces the route's rule before any body is read;
 * onSend writes the audit entry before anything leaves, and a failed audit write turns the response into a 503
 * without data.
 */
export function registerAccessControl(
  app: FastifyInstance,
  deps: { identity: IdentityStore; audit: AuditLog; oidc: OidcVerifier | null; activity: RequestActivity },
): void {
  const { identity, audit, oidc, activity } = deps;
  app.decorateRequest('principal', null);
  app.decorateRequest('authFailure', null);
  // Set per request in onRequest (a shared object default would leak between requests).
  app.decorateRequest('auditNote', null as unknown as AuditNote);
  app.decorateRequest('albumAccess', null);
  app.decorateRequest('endWork', null);

  const authenticate = async (request: FastifyRequest): Promise<void> => {
    if (request.routeOptions.config.access?.public === true) return;
    const bearer = bearerOf(request);
    if (bearer === null) {
      request.authFailure = request.headers.authorization === undefined ? 'no credentials' : 'the Authorization header is not a Bearer credential';
      return;
    }
    if (looksLikeTokenSecret(bearer)) {
      const check = await identity.authenticate(bearer);
      if (!check.ok) {
        request.authFailure = `the token is ${check.reason === 'unknown' || check.reason === 'malformed' ? 'not valid' : check.reason.replace(/-/g, ' ')}`;
        request.auditNote.detail = { credential: 'token', tokenId: check.tokenId };
        return;
      }
      request.principal = {
        user: check.user,
        tokenId: check.token.id,
        albumScope: check.token.albumId,
        permissions: new Set(check.token.permissions),
        via: 'token',
      };
      return;
    }
    if (oidc !== null && looksLikeJwt(bearer)) {
      const result = await oidc.verify(bearer);
      if (!result.ok) {
        request.authFailure = `the access token is ${result.reason.replace(/-/g, ' ')}`;
        return;
      }
      const user = await identity.provisionUser({ ...result.identity });
      if (user.disabled) {
        request.authFailure = 'the account is disabled';
        return;
      }
      await identity.touchUser(user.id);
      // An OIDC session acts as the person: what they may do is decided by album membership and flags.
      request.principal = { user, tokenId: null, albumScope: null, permissions: new Set(tokenPermissions), via: 'oidc' };
      return;
    }
    request.authFailure = 'the credential is not valid';
  };

  const authorize = async (request: FastifyRequest): Promise<void> => {
    const rule = request.routeOptions.config.access;
    if (rule === undefined) {
      if (request.is404) return;
      request.log.error({ route: request.routeOptions.url }, 'route has no access rule; refused');
      throw new AppError('FORBIDDEN', [{ path: '', issue: 'this route is not open to anyone' }]);
    }
    if (rule.public === true) return;
    const albumId = rule.albumParam === undefined ? null : ((request.params as Record<string, string | undefined>)[rule.albumParam] ?? null);
    // The audit entry names the album that was asked for, even when the answer is no.
    if (albumId !== null && albumId.length <= 64) request.auditNote.albumId = albumId;
    const principal = request.principal;
    if (principal === null) throw new AppError('UNAUTHENTICATED', [{ path: 'Authorization', issue: request.authFailure ?? 'no credentials' }]);
    if (rule.serverAdmin === true && !principal.user.isAdmin) {
      throw new AppError('FORBIDDEN', [{ path: '', issue: 'server administrators only' }]);
    }
    if (rule.permission !== null && !principal.permissions.has(rule.permission)) {
      throw new AppError('FORBIDDEN', [{ path: 'token', issue: `the token lacks the ${rule.permission} permission` }]);
    }
    if (principal.albumScope !== null && (albumId === null ? rule.allowAlbumTokens !== true : albumId !== principal.albumScope)) {
      throw new AppError('FORBIDDEN', [{ path: 'token', issue: 'the token is limited to another album' }]);
    }
    if (albumId !== null) {
      const album = await identity.getAlbum(albumId);
      const member = album === null || album.destroyedAt !== null ? null : await identity.getMember(albumId, principal.user.id);
      if (member === null && !principal.user.isAdmin) {
        // Same answer whether the album does not exist or is not yours: no probing.
        throw new AppError('FORBIDDEN', [{ path: 'album', issue: 'you are not a member of this album' }]);
      }
      if (album === null || album.destroyedAt !== null) throw new AppError('NOT_FOUND', [{ path: 'album', issue: 'no such album' }]);
      if (member !== null && !member.isAdmin && !principal.user.isAdmin) {
        if (rule.albumAdmin === true) throw new AppError('FORBIDDEN', [{ path: 'album', issue: 'album administrators only' }]);
        if (rule.memberFlag !== undefined && !member.flags[rule.memberFlag]) {
          throw new AppError('FORBIDDEN', [{ path: 'album', issue: `your membership does not allow ${rule.memberFlag}` }]);
        }
      }
      request.albumAccess = { album, member };
    }
  };

  // Everything is decided before the body is read: an unauthorised request never reaches a parser or a handler.
  app.addHook('onRequest', async (request) => {
    request.endWork = activity.begin();
    request.auditNote = {};
    await authenticate(request);
    await authorize(request);
  });

  const endWork = async (request: FastifyRequest): Promise<void> => request.endWork?.();
  app.addHook('onResponse', endWork);
  app.addHook('onRequestAbort', endWork);
  app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload) => {
    request.endWork?.();
    const rule = request.routeOptions.config.access;
    if (rule?.public === true) return payload;
    const status = reply.statusCode;
    const note = request.auditNote ?? {};
    const principal = request.principal;
    const event: AuditEvent = {
      action: status === 401 || status === 403 ? 'auth.denied' : (rule?.action ?? 'request.other'),
      outcome: status === 401 || status === 403 ? 'denied' : status >= 400 ? 'failed' : 'success',
      actorId: principal?.user.id ?? null,
      tokenId: principal?.tokenId ?? (typeof note.detail?.tokenId === 'string' ? note.detail.tokenId : null),
      albumId: note.albumId ?? principal?.albumScope ?? null,
      studyInstanceUID: note.studyInstanceUID ?? uidParam(request.params, ['study', 'studyInstanceUID', 'studyUID']),
      seriesInstanceUID: note.seriesInstanceUID ?? uidParam(request.params, ['series', 'seriesInstanceUID', 'seriesUID']),
      sopInstanceUID: note.sopInstanceUID ?? uidParam(request.params, ['instance', 'sopInstanceUID', 'instanceUID']),
      httpStatus: status,
      clientAddress: request.ip,
      requestId: request.id,
      detail: {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        ...(rule === undefined || status === 401 || status === 403 ? { attempted: rule?.action ?? 'unknown' } : {}),
        ...note.detail,
      },
    };
    try {
      await audit.append(event);
      return payload;
    } catch (error) {
      request.log.error({ err: error }, 'audit write failed; response withheld');
      const failure = error instanceof AppError ? error : new AppError('AUDIT_WRITE_FAILED');
      void reply.code(failure.httpStatus).header('content-type', 'application/json; charset=utf-8');
      reply.removeHeader('content-length');
      reply.removeHeader('etag');
      destroyStream(payload);
      return JSON.stringify({ error: toWireError(failure) });
    }
  });
}

function destroyStream(payload: unknown): void {
  if (typeof payload === 'object' && payload !== null && 'destroy' in payload && typeof payload.destroy === 'function') {
    (payload as { destroy: () => void }).destroy();
  }
}

export function requirePrincipal(request: FastifyRequest): Principal {
  if (request.principal === null) throw new AppError('UNAUTHENTICATED');
  return request.principal;
}
