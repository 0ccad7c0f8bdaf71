import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  LogLevel,
  PublicClientApplication,
  ProtocolMode,
  type AccountInfo,
  type AuthenticationResult,
  type ICachePlugin,
  type TokenCacheContext,
} from '@azure/msal-node';
import type { Logger } from 'pino';
import { AppError } from '../../shared/errors/app-error.js';
import type { SsoClientConfig } from '../../shared/domain/sso.js';
import { writeFileAtomic } from './atomic-write.js';
import type { SecretVault } from './secret-vault.js';

/**
 * MSAL's token cache, sealed with the workstation's vault (Electron safeStorage, or the user-only key file in the
 * browser shell) and written atomically. Never plain JSON on disk, never in a settings store.
 */
export function sealedCachePlugin(file: string, vault: SecretVault): ICachePlugin {
  return {
    beforeCacheAccess: async (context: TokenCacheContext) => {
      let sealed: Buffer;
      try {
        sealed = await readFile(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      try {
        context.tokenCache.deserialize(await vault.decrypt(sealed));
      } catch {
        // A cache sealed with another key (reinstalled OS keychain) is useless: start again with sign-in.
      }
    },
    afterCacheAccess: async (context: TokenCacheContext) => {
      if (context.cacheHasChanged) await writeFileAtomic(file, await vault.encrypt(context.tokenCache.serialize()));
    },
  };
}

const page = (title: string, text: string): string =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body style="font-family:system-ui;margin:4em">` +
  `<h1>${title}</h1><p>${text}</p></body></html>`;

/** Hospital single sign-on through MSAL: authorization code + PKCE in the system browser, tokens cached sealed. */
export class SsoClient {
  readonly #app: PublicClientApplication;
  readonly #config: SsoClientConfig;

  constructor(config: SsoClientConfig, options: { userDataDir: string; vault: SecretVault; log: Logger }) {
    this.#config = config;
    this.#app = new PublicClientApplication({
      auth: {
        clientId: config.clientId,
        authority: config.authority,
        ...(config.knownAuthorities.length === 0 ? {} : { knownAuthorities: config.knownAuthorities }),
      },
      cache: { cachePlugin: sealedCachePlugin(join(options.userDataDir, 'sso-cache.sealed'), options.vault) },
      system: {
        protocolMode: config.protocolMode === 'OIDC' ? ProtocolMode.OIDC : ProtocolMode.AAD,
        loggerOptions: {
          logLevel: LogLevel.Warning,
          piiLoggingEnabled: false,
          loggerCallback: (_level, message, containsPii) => {
            if (!containsPii) options.log.debug({ component: 'msal' }, message);
          },
        },
      },
    });
  }

  get config(): SsoClientConfig {
    return this.#config;
  }

  /** Opens the IdP's sign-in page with `openBrowser` and waits for the redirect to MSAL's loopback listener. */
  async signIn(openBrowser: (url: string) => Promise<void>): Promise<AuthenticationResult> {
    try {
      return await this.#app.acquireTokenInteractive({
        scopes: this.#config.scopes,
        openBrowser,
        prompt: this.#config.prompt,
        successTemplate: page('Signed in', 'You are signed in to PARADIM Workstation. You can close this tab.'),
        errorTemplate: page('Sign-in failed', 'Sign-in did not complete. Return to the workstation and try again.'),
      });
    } catch (error) {
      throw new AppError('SIGN_IN_FAILED', [{ path: 'sso', issue: msalReason(error) }], { cause: error });
    }
  }

  async account(homeAccountId: string): Promise<AccountInfo | null> {
    return this.#app.getTokenCache().getAccountByHomeId(homeAccountId);
  }

  /** A valid access token from the cache, refreshed silently; UNAUTHENTICATED when a new sign-in is needed. */
  async accessToken(homeAccountId: string): Promise<string> {
    const account = await this.account(homeAccountId);
    if (account === null) throw new AppError('UNAUTHENTICATED', [{ path: 'sso', issue: 'please sign in again' }]);
    try {
      const result = await this.#app.acquireTokenSilent({ account, scopes: this.#config.scopes });
      return result.accessToken;
    } catch (error) {
      throw new AppError('UNAUTHENTICATED', [{ path: 'sso', issue: `please sign in again (${msalReason(error)})` }], { cause: error });
    }
  }

  async signOut(homeAccountId: string): Promise<void> {
    const account = await this.account(homeAccountId);
    if (account !== null) await this.#app.getTokenCache().removeAccount(account);
  }
}

function msalReason(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'errorCode' in error && typeof error.errorCode === 'string') {
    return error.errorCode.replace(/_/g, ' ');
  }
  return 'the identity provider did not answer as expected';
}
