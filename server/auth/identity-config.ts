import { AppError } from '../../shared/errors/app-error.js';
import { ssoClientConfigSchema, type SsoClientConfig } from '../../shared/domain/sso.js';
import { zodDetails } from '../../shared/ipc/envelope.js';
import { oidcConfigSchema, type OidcConfig } from './oidc-verifier.js';

export interface IdentityConfig {
  readonly oidc: OidcConfig | null;
  readonly ssoClient: SsoClientConfig | null;
  readonly auditKeyFile: string | undefined;
}

const list = (value: string | undefined, separator: RegExp): string[] | undefined =>
  value === undefined || value.trim() === '' ? undefined : value.split(separator).map((part) => part.trim()).filter((part) => part !== '');

/**
 * Identity settings from the environment: which OIDC issuer's bearer tokens the server accepts (Entra ID in
 * production) and what it tells the workstation to sign in with. No issuer: local tokens only.
 *
 * PARADIM_OIDC_ISSUER, PARADIM_OIDC_AUDIENCE, PARADIM_OIDC_JWKS_URI, PARADIM_OIDC_ADMIN_GROUPS (comma-separated);
 * PARADIM_SSO_CLIENT_ID, PARADIM_SSO_SCOPES (space-separated), PARADIM_SSO_AUTHORITY (default: the issuer),
 * PARADIM_SSO_PROTOCOL_MODE (AAD | OIDC), PARADIM_SSO_KNOWN_AUTHORITIES, PARADIM_SSO_PROMPT; PARADIM_AUDIT_KEY_FILE.
 */
export function loadIdentityConfig(env: NodeJS.ProcessEnv): IdentityConfig {
  const issuer = env.PARADIM_OIDC_ISSUER;
  let oidc: OidcConfig | null = null;
  let ssoClient: SsoClientConfig | null = null;
  if (issuer !== undefined && issuer !== '') {
    const parsed = oidcConfigSchema.safeParse({
      issuer,
      audience: env.PARADIM_OIDC_AUDIENCE,
      ...(env.PARADIM_OIDC_JWKS_URI === undefined ? {} : { jwksUri: env.PARADIM_OIDC_JWKS_URI }),
      ...(list(env.PARADIM_OIDC_ADMIN_GROUPS, /,/) === undefined ? {} : { adminGroups: list(env.PARADIM_OIDC_ADMIN_GROUPS, /,/) }),
    });
    if (!parsed.success) throw new AppError('CONFIG_INVALID', zodDetails(parsed.error).map((d) => ({ path: `PARADIM_OIDC_${d.path.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`, issue: d.issue })));
    oidc = parsed.data;
    if (env.PARADIM_SSO_CLIENT_ID !== undefined && env.PARADIM_SSO_CLIENT_ID !== '') {
      const sso = ssoClientConfigSchema.safeParse({
        authority: env.PARADIM_SSO_AUTHORITY ?? issuer,
        clientId: env.PARADIM_SSO_CLIENT_ID,
        scopes: list(env.PARADIM_SSO_SCOPES, /\s+/) ?? [],
        protocolMode: env.PARADIM_SSO_PROTOCOL_MODE ?? 'AAD',
        ...(list(env.PARADIM_SSO_KNOWN_AUTHORITIES, /[\s,]+/) === undefined ? {} : { knownAuthorities: list(env.PARADIM_SSO_KNOWN_AUTHORITIES, /[\s,]+/) }),
        ...(env.PARADIM_SSO_PROMPT === undefined ? {} : { prompt: env.PARADIM_SSO_PROMPT }),
      });
      if (!sso.success) throw new AppError('CONFIG_INVALID', zodDetails(sso.error).map((d) => ({ path: `PARADIM_SSO_${d.path.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`, issue: d.issue })));
      ssoClient = sso.data;
    }
  }
  return { oidc, ssoClient, auditKeyFile: env.PARADIM_AUDIT_KEY_FILE === '' ? undefined : env.PARADIM_AUDIT_KEY_FILE };
}
