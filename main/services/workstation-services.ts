import type { Logger } from 'pino';
import { events, type EventName, type EventPayload } from '../../shared/ipc/contract.js';
import type { Handlers } from '../ipc/dispatcher.js';
import { appVersion, productName } from '../version.js';
import type { SecretVault } from './secret-vault.js';
import { ServerMonitor } from './server-monitor.js';
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
      if (next.serverUrl !== before) await monitor.setUrl(serverUrlOf(next.serverUrl));
      return next;
    },
    'server.getStatus': async () => monitor.status,
    'server.checkNow': async () => monitor.checkNow(),
  };

  return { handlers, emit, vault: options.vault, dispose: () => monitor.stop() };
}
