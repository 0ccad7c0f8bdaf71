import type { Logger } from 'pino';
import { z } from 'zod';
import { accessReviewSchema, albumSchema, albumSummarySchema, destructionCertificateSchema, events, memberSchema, tokenSchema, type EventName, type EventPayload } from '../../shared/ipc/contract.js';
import type { Handlers } from '../ipc/dispatcher.js';
import { appVersion, productName } from '../version.js';
import type { SecretVault } from './secret-vault.js';
import { availableParallelism } from 'node:os';
import { ImportService } from '../import/import-service.js';
import { pushFolder } from '../import/push.js';
import { AppError } from '../../shared/errors/app-error.js';
import { CompanionApi } from './companion-api.js';
import { ServerMonitor } from './server-monitor.js';
import { consumeBootstrapToken } from './session-bootstrap.js';
import { SessionService } from './session-service.js';
import { SettingsStore } from './settings-store.js';

export type EmitEvent = <E extends EventName>(event: E, payload: EventPayload<E>) => void;

export interface WorkstationServicesOptions {
  readonly shell: 'electron' | 'browser';
  readonly userDataDir: string;
  /** URL of the companion server started with the workstation, used while the user has not chosen another. */
  readonly embeddedServerUrl: string | null;
  readonly vault: SecretVault;
  readonly log: Logger;
  /** Fan-out to every window or socket; called with contract-checked payloads only. */
  readonly broadcast: (event: EventName, payload: unknown) => void;
  readonly healthIntervalMs?: number;
  /**
   * Opens an address outside the workstation (the identity provider's sign-in page): the system browser in
   * Electron; in the browser shell, a new tab opened by the window on main's request. Defaults to the latter.
   */
  readonly openExternal?: (url: string) => Promise<void>;
  /** The bundled de-identification worker (app/deid/deid-worker.cjs); null runs batches in this thread. */
  readonly deidWorkerScript?: string | null;
}

export interface WorkstationServices {
  readonly handlers: Handlers;
  readonly emit: EmitEvent;
  readonly vault: SecretVault;
  dispose(): void;
}

/** The composition root of main's services; both shells (Electron and browser) host exactly this. */
export async function createWorkstationServices(options: WorkstationServicesOptions): Promise<WorkstationServices> {
  const { log } = options;
  const emit: EmitEvent = (event, payload) => {
    const checked = events[event].safeParse(payload);
    if (!checked.success) {
      log.error({ event }, 'event payload outside the contract was not sent');
      return;
    }
    options.broadcast(event, checked.data);
  };
  const settings = await SettingsStore.open(options.userDataDir, log.child({ service: 'settings' }));
  const serverUrlOf = (chosen: string | null): string | null => chosen ?? options.embeddedServerUrl;
  const monitor = new ServerMonitor({
    url: serverUrlOf(settings.get().serverUrl),
    log: log.child({ service: 'server-monitor' }),
    onChange: (status) => emit('server.status', status),
  });
  monitor.start(options.healthIntervalMs ?? 5000);
  const api = new CompanionApi(() => serverUrlOf(settings.get().serverUrl));
  const session = await SessionService.open({
    userDataDir: options.userDataDir,
    vault: options.vault,
    api,
    log: log.child({ service: 'session' }),
    onChange: (value) => emit('session.changed', value),
    openExternal: options.openExternal ?? (async (url) => emit('session.openExternal', { url })),
  });
  const call = <T extends z.ZodType>(schema: T, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<z.output<T>> =>
    session.authorized((bearer) => api.request(schema, method, path, { bearer, ...(body === undefined ? {} : { body }) }));
  const noContent = z.object({}).transform(() => ({}));
  await consumeBootstrapToken(options.userDataDir, session, log);
  const imports = new ImportService({
    userDataDir: options.userDataDir,
    vault: options.vault,
    emit,
    log: log.child({ service: 'import' }),
    workerScript: options.deidWorkerScript ?? null,
    // Leave a core to the window while a batch runs.
    workers: Math.max(1, Math.min(8, availableParallelism() - 1)),
  });

  const handlers: Handlers = {
    'app.getInfo': async () => ({
      productName,
      version: appVersion,
      shell: options.shell,
      platform: `${process.platform}-${process.arch}`,
      runtimeVersions: Object.fromEntries(
        Object.entries({ node: process.versions.node, electron: process.versions.electron, chrome: process.versions.chrome }).filter(
          (entry): entry is [string, string] => typeof entry[1] === 'string',
        ),
      ),
    }),
    'settings.get': async () => settings.get(),
    'settings.update': async (patch) => {
      const before = settings.get().serverUrl;
      const next = await settings.update(patch);
      if (next.serverUrl !== before) {
        await monitor.setUrl(serverUrlOf(next.serverUrl));
        emit('session.changed', await session.get());
      }
      return next;
    },
    'server.getStatus': async () => monitor.status,
    'server.checkNow': async () => monitor.checkNow(),
    'session.get': () => session.get(),
    'session.signInWithToken': ({ token }) => session.signInWithToken(token),
    'session.signInWithSso': () => session.signInWithSso(),
    'session.signOut': () => session.signOut(),
    'albums.list': () => call(z.array(albumSummarySchema), 'GET', '/api/albums'),
    'albums.create': (input) => call(albumSchema, 'POST', '/api/albums', input),
    'albums.members': ({ albumId }) => call(z.array(memberSchema), 'GET', `/api/albums/${albumId}/members`),
    'albums.setMember': ({ albumId, userId, isAdmin, flags }) =>
      call(memberSchema.omit({ user: true }), 'PUT', `/api/albums/${albumId}/members/${userId}`, { isAdmin, flags }),
    'albums.invite': ({ albumId, ...body }) => call(memberSchema, 'POST', `/api/albums/${albumId}/members`, body),
    'albums.destroy': ({ albumId, ...body }) => call(destructionCertificateSchema, 'POST', `/api/albums/${albumId}/destroy`, body),
    'albums.accessReview': ({ albumId }) => call(accessReviewSchema, 'GET', `/api/albums/${albumId}/access-review`),
    'albums.removeMember': ({ albumId, userId }) => call(noContent, 'DELETE', `/api/albums/${albumId}/members/${userId}`),
    'import.profiles': async () => imports.profiles(),
    'import.scan': ({ folder }) => imports.scan(folder),
    'import.preview': ({ folder, file, profile }) => imports.preview(folder, file, profile),
    'import.start': ({ folder, output, profile }) => imports.start(folder, output, profile),
    'import.cancel': async ({ taskId }) => (imports.cancel(taskId), {}),
    'import.push': async ({ folder, albumId }) => {
      const base = serverUrlOf(settings.get().serverUrl);
      if (base === null) throw new AppError('SERVER_UNREACHABLE', [{ path: 'serverUrl', issue: 'no companion server is configured' }]);
      return pushFolder({ folder, albumUrl: `${base.replace(/\/$/, '')}/albums/${albumId}/dicomweb`, bearer: () => session.bearer(), emit });
    },
    'import.exportMap': ({ profile, destination, passphrase }) => imports.exportMap(profile, destination, passphrase),
    'tokens.list': () => call(z.array(tokenSchema), 'GET', '/api/tokens'),
    'tokens.create': (input) => call(z.object({ token: tokenSchema, secret: z.string() }), 'POST', '/api/tokens', input),
    'tokens.revoke': ({ tokenId }) => call(noContent, 'DELETE', `/api/tokens/${tokenId}`),
  };

  return {
    handlers,
    emit,
    vault: options.vault,
    dispose: () => {
      monitor.stop();
      imports.dispose();
    },
  };
}
