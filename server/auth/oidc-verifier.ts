import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';

export const oidcConfigSchema = z.strictObject({
  /** Exact issuer (`iss`), e.g. `https://login.microsoftonline.com/<tenant>/v2.0`. */
  issuer: z.string().url(),
  /** Expected audience (`aud`) of access tokens, e.g. `api://paradim-server`. */
  audience: z.string().min(1),
  /** JWKS location; defaults to the issuer's discovery document's `jwks_uri`. */
  jwksUri: z.string().url().optional(),
  /** Claim holding group ids (Entra: `groups`). */
  groupsClaim: z.string().default('groups'),
  /** Members of these groups are server administrators. */
  adminGroups: z.array(z.string()).default([]),
  clockToleranceSeconds: z.number().int().min(0).max(300).default(60),
});

export type OidcConfig = z.output<typeof oidcConfigSchema>;

export interface OidcIdentity {
  readonly issuer: string;
  readonly subject: string;
  readonly name: string | null;
  readonly email: string | null;
  readonly groups: readonly string[];
  readonly isAdmin: boolean;
  readonly scopes: readonly string[];
  readonly expiresAt: Date | null;
}

export type OidcResult = { readonly ok: true; readonly identity: OidcIdentity } | { readonly ok: false; readonly reason: 'expired' | 'not-yet-valid' | 'invalid' };

/** Verifies OIDC bearer access tokens (JWT) by issuer, audience, signature (JWKS) and validity times. */
export class OidcVerifier {
  readonly #config: OidcConfig;
  #keys: JWTVerifyGetKey | undefined;

  constructor(config: OidcConfig) {
    this.#config = config;
  }

  async #keySet(): Promise<JWTVerifyGetKey> {
    if (this.#keys !== undefined) return this.#keys;
    let uri = this.#config.jwksUri;
    if (uri === undefined) {
      const discovery = await fetch(`${this.#config.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000) });
      const body = (await discovery.json()) as { jwks_uri?: unknown };
      if (typeof body.jwks_uri !== 'string') throw new Error('the issuer discovery document has no jwks_uri');
      uri = body.jwks_uri;
    }
    this.#keys = createRemoteJWKSet(new URL(uri));
    return this.#keys;
  }

  async verify(jwt: string): Promise<OidcResult> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(jwt, await this.#keySet(), {
        issuer: this.#config.issuer,
        audience: this.#config.audience,
        clockTolerance: this.#config.clockToleranceSeconds,
        algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'],
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) return { ok: false, reason: 'expired' };
      if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'nbf') return { ok: false, reason: 'not-yet-valid' };
      return { ok: false, reason: 'invalid' };
    }
    const claim = (name: string): string | null => (typeof payload[name] === 'string' ? (payload[name] as string) : null);
    const rawGroups = payload[this.#config.groupsClaim];
    const groups = Array.isArray(rawGroups) ? rawGroups.filter((group): group is string => typeof group === 'string') : [];
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter((s) => s !== '') : typeof payload.scp === 'string' ? payload.scp.split(' ') : [];
    return {
      ok: true,
      identity: {
        issuer: this.#config.issuer,
        subject: payload.sub ?? '',
        name: claim('name') ?? claim('preferred_username'),
        email: claim('email') ?? claim('upn') ?? claim('preferred_username'),
        groups,
        isAdmin: groups.some((group) => this.#config.adminGroups.includes(group)),
        scopes,
        expiresAt: payload.exp === undefined ? null : new Date(payload.exp * 1000),
      },
    };
  }
}

/** Cheap pre-check: three base64url segments, the first decoding to a JSON header. */
export function looksLikeJwt(value: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(value) && value.startsWith('eyJ');
}
