import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { createDispatcher } from '../ipc/dispatcher.js';
import { createEventHub } from '../ipc/event-hub.js';
import { openKeyFileVault } from '../services/secret-vault.js';
import { createWorkstationServices } from '../services/workstation-services.js';
import { startShellServer, type ShellServer } from './shell-server.js';

export interface BrowserWorkstationOptions {
  readonly rendererDir: string;
  readonly userDataDir: string;
  readonly embeddedServerUrl: string | null;
  readonly log: Logger;
  readonly port?: number;
  readonly healthIntervalMs?: number;
  readonly deidWorkerScript?: string | null;
}

/** The workstation's services hosted by Node for a browser: same services, same contract, another transport. */
export async function startBrowserWorkstation(options: BrowserWorkstationOptions): Promise<ShellServer> {
  await mkdir(options.userDataDir, { recursive: true, mode: 0o700 });
  const hub = createEventHub();
  const services = await createWorkstationServices({
    shell: 'browser',
    userDataDir: options.userDataDir,
    embeddedServerUrl: options.embeddedServerUrl,
    vault: await openKeyFileVault(options.userDataDir),
    log: options.log,
    broadcast: hub.broadcast,
    ...(options.healthIntervalMs === undefined ? {} : { healthIntervalMs: options.healthIntervalMs }),
    deidWorkerScript: options.deidWorkerScript ?? null,
  });
  const dispatch = createDispatcher(services.handlers, options.log.child({ component: 'ipc' }));
  const server = await startShellServer({
    rendererDir: options.rendererDir,
    dispatch,
    hub,
    log: options.log.child({ component: 'browser-shell' }),
    ...(options.port === undefined ? {} : { port: options.port }),
  });
  return {
    ...server,
    close: async () => {
      services.dispose();
      await server.close();
    },
  };
}
