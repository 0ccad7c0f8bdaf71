import { z } from 'zod';

/**
 * What the companion server tells the workstation about single sign-on (`GET /api/auth-config`): which identity
 * provider to use and which scopes give an access token the server accepts. Null when the server has no IdP.
 */
export const ssoClientConfigSchema = z.strictObject({
  /** Authority URL, e.g. `https://login.microsoftonline.com/<tenant>` (Entra) or any OIDC issuer. */
  authority: z.string().url(),
  /** The workstation's public client id registered at the IdP. */
  clientId: z.string().min(1),
  scopes: z.array(z.string().min(1)).min(1),
  /** `AAD` for Microsoft Entra ID, `OIDC` for any other OpenID Connect provider. */
  protocolMode: z.enum(['AAD', 'OIDC']),
  /** Hosts of non-Microsoft authorities, so MSAL does not attempt Microsoft cloud discovery. */
  knownAuthorities: z.array(z.string()).default([]),
  /** `select_account` normally; `consent` for providers that issue refresh tokens only after explicit consent. */
  prompt: z.enum(['select_account', 'consent', 'login']).default('select_account'),
});

export type SsoClientConfig = z.output<typeof ssoClientConfigSchema>;

export const authConfigResponseSchema = z.strictObject({ sso: ssoClientConfigSchema.nullable() });
