import { describe, expect, it } from 'vitest';
import { loadIdentityConfig } from './identity-config.js';

describe('identity configuration', () => {
  it('is local-tokens-only without an issuer', () => {
    expect(loadIdentityConfig({})).toEqual({ oidc: null, ssoClient: null, auditKeyFile: undefined });
  });

  it('reads the OIDC issuer and the workstation SSO client', () => {
    const config = loadIdentityConfig({
      PARADIM_OIDC_ISSUER: 'https://login.microsoftonline.com/tenant-id/v2.0',
      PARADIM_OIDC_AUDIENCE: 'api://paradim',
      PARADIM_OIDC_ADMIN_GROUPS: 'g1, g2',
      PARADIM_SSO_CLIENT_ID: 'client-1',
      PARADIM_SSO_SCOPES: 'openid profile api://paradim/dicomweb',
      PARADIM_SSO_AUTHORITY: 'https://login.microsoftonline.com/tenant-id',
    });
    expect(config.oidc).toMatchObject({ issuer: 'https://login.microsoftonline.com/tenant-id/v2.0', audience: 'api://paradim', adminGroups: ['g1', 'g2'] });
    expect(config.ssoClient).toMatchObject({ clientId: 'client-1', protocolMode: 'AAD', scopes: ['openid', 'profile', 'api://paradim/dicomweb'], prompt: 'select_account' });
  });

  it('names the variable that is wrong', () => {
    expect(() => loadIdentityConfig({ PARADIM_OIDC_ISSUER: 'not a url', PARADIM_OIDC_AUDIENCE: 'x' })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', details: [expect.objectContaining({ path: 'PARADIM_OIDC_ISSUER' })] }),
    );
    expect(() => loadIdentityConfig({ PARADIM_OIDC_ISSUER: 'https://idp.example' })).toThrow(
      expect.objectContaining({ details: [expect.objectContaining({ path: 'PARADIM_OIDC_AUDIENCE' })] }),
    );
  });
});
