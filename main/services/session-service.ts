import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { AppError } from '../../shared/errors/app-error.js';
import { authConfigResponseSchema, ssoClientConfigSchema, type SsoClientConfig } from '../../shared/domain/sso.js';
import { sessionUserSchema, type Session } from '../../shared/ipc/contract.js';
import { writeFileAtomic } from './atomic-write.js';
import type { CompanionApi } from './companion-api.js';
import type { SecretVault } from './secret-vault.js';
import { SsoClient } from './sso-client.js';

const storedSessionSchema = z.discriminatedUnion('method', [
  z.strictObject({ method: z.literal('token'), serverUrl: z.string(), token: z.string(), user: sessionUserSchema }),
  z.strictObject({ method: z.literal('sso'), serverUrl: z.string(), homeAccountId: z.string(), sso: ssoClientConfigSchema, user: sessionUserSchema }),
]);
type StoredSession = z.output<typeof storedSessionSchema>;

const meSchema = z.object({
  user: z.object({ id: z.string(), name: z.string().nullable(), email: z.string().nullable(), isAdmin: z.boolean() }),
});

/**
 * Who the radiologist is on the companion server: a PARADIM access token or a hospital SSO account. The credential
 * is kept sealed with the vault (never in plain files or settings) and belongs to one server address: changing
 * the server signs out.
 */
export class SessionService {
  readonly #file: string;
  readonly #vault: SecretVault;
  readonly #api: CompanionApi;
  readonly #log: Logger;
  readonly #userDataDir: string;
  readonly #onChange: (session: Session) => void;
  readonly #openExternal: (url: string) => Promise<void>;
  #stored: StoredSession | null = null;
  #sso: SsoClient | null = null;
  #authConfig: { url: string; sso: SsoClientConfig | null } | null = null;

  private constructor(options: SessionOptions) {
    this.#file = join(options.userDataDir, 'session.sealed');
    this.#vault = options.vault;
    this.#api = options.api;
    this.#log = options.log;
    this.#userDataDir = options.userDataDir;
    this.#onChange = options.onChange;
    this.#openExternal = options.openExternal;
  }

  static async open(options: SessionOptions): Promise<SessionService> {
    const service = new SessionService(options);
    try {
      const parsed = storedSessionSchema.safeParse(JSON.parse(await options.vault.decrypt(await readFile(service.#file))));
      if (parsed.success) service.#stored = parsed.data;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') options.log.warn('the saved session could not be opened; signed out');
    }
    return service;
  }

  async get(): Promise<Session> {
    const serverUrl = this.#api.baseUrl;
    const stored = this.#stored !== null && this.#stored.serverUrl === serverUrl ? this.#stored : null;
    const sso = await this.#ssoConfig().catch(() => null);
    return {
      state: stored === null ? 'signed-out' : 'signed-in',
      method: stored?.method ?? null,
      serverUrl,
      user: stored?.user ?? null,
      ssoAvailable: sso !== null,
    };
  }

  /** The credential to present to the server now (a token, or a fresh SSO access token). */
  async bearer(): Promise<string> {
    const stored = this.#stored;
    if (stored === null || stored.serverUrl !== this.#api.baseUrl) throw new AppError('UNAUTHENTICATED', [{ path: 'session', issue: 'you are not signed in' }]);
    if (stored.method === 'token') return stored.token;
    return this.#ssoClient(stored.sso).accessToken(stored.homeAccountId);
  }

  /** Runs a server call with the session's credential; a refused credential signs the session out. */
  async authorized<T>(call: (bearer: string) => Promise<T>): Promise<T> {
    const bearer = await this.bearer();
    try {
      return await call(bearer);
    } catch (error) {
      if (error instanceof AppError && error.code === 'UNAUTHENTICATED') {
        await this.#save(null);
        this.#log.info('the server refused the saved credential; signed out');
      }
      throw error;
    }
  }

  async signInWithToken(token: string): Promise<Session> {
    const serverUrl = this.#serverUrl();
    const me = await this.#api.request(meSchema, 'GET', '/api/me', { bearer: token });
    await this.#save({ method: 'token', serverUrl, token, user: me.user });
    return this.get();
  }

  async signInWithSso(): Promise<Session> {
    const serverUrl = this.#serverUrl();
    const config = await this.#ssoConfig();
    if (config === null) throw new AppError('SIGN_IN_FAILED', [{ path: 'sso', issue: 'this server has no single sign-on configured; use an access token' }]);
    const client = this.#ssoClient(config);
    const result = await client.signIn(this.#openExternal);
    if (result.account === null) throw new AppError('SIGN_IN_FAILED', [{ path: 'sso', issue: 'the identity provider returned no account' }]);
    const me = await this.#api.request(meSchema, 'GET', '/api/me', { bearer: result.accessToken });
    await this.#save({ method: 'sso', serverUrl, homeAccountId: result.account.homeAccountId, sso: config, user: me.user });
    return this.get();
  }

  async signOut(): Promise<Session> {
    const stored = this.#stored;
    if (stored?.method === 'sso') await this.#ssoClient(stored.sso).signOut(stored.homeAccountId).catch(() => undefined);
    await this.#save(null);
    return this.get();
  }

  #serverUrl(): string {
    const url = this.#api.baseUrl;
    if (url === null) throw new AppError('SERVER_UNREACHABLE', [{ path: 'serverUrl', issue: 'no companion server is configured' }]);
    return url;
  }

  async #ssoConfig(): Promise<SsoClientConfig | null> {
    const url = this.#api.baseUrl;
    if (url === null) return null;
    if (this.#authConfig?.url !== url) {
      const answer = await this.#api.request(authConfigResponseSchema, 'GET', '/api/auth-config');
      this.#authConfig = { url, sso: answer.sso };
    }
    return this.#authConfig.sso;
  }

  #ssoClient(config: SsoClientConfig): SsoClient {
    if (this.#sso === null || JSON.stringify(this.#sso.config) !== JSON.stringify(config)) {
      this.#sso = new SsoClient(config, { userDataDir: this.#userDataDir, vault: this.#vault, log: this.#log });
    }
    return this.#sso;
  }

  async #save(next: StoredSession | null): Promise<void> {
    this.#stored = next;
    if (next === null) await rm(this.#file, { force: true });
    else await writeFileAtomic(this.#file, await this.#vault.encrypt(JSON.stringify(next)));
    this.#onChange(await this.get());
  }
}

export interface SessionOptions {
  readonly userDataDir: string;
  readonly vault: SecretVault;
  readonly api: CompanionApi;
  readonly log: Logger;
  readonly onChange: (session: Session) => void;
  readonly openExternal: (url: string) => Promise<void>;
}
