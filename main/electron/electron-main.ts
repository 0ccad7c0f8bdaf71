import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { app, BrowserWindow, ipcMain, Menu, net, protocol, session, shell, type WebFrameMain } from 'electron';
import { AppError } from '../../shared/errors/app-error.js';
import { bridgeEventChannel, bridgeInvokeChannel } from '../../shared/ipc/bridge.js';
import { fail } from '../../shared/ipc/envelope.js';
import { contentSecurityPolicy } from '../../shared/security/content-security-policy.js';
import { createDispatcher } from '../ipc/dispatcher.js';
import { createEventHub } from '../ipc/event-hub.js';
import { createLogger } from '../logging/logger.js';
import { createWorkstationServices } from '../services/workstation-services.js';
import { defaultUserDataDir } from '../paths.js';
import { productName } from '../version.js';
import { openSafeStorageVault } from './safe-storage-vault.js';

const scheme = 'app';
const appOrigin = `${scheme}://workstation`;
const rendererDir = join(__dirname, '..', 'renderer');
const log = createLogger({ name: 'workstation' });
// One user data folder for both shells, so the launcher's hand-over files and the session are found.
app.setPath('userData', defaultUserDataDir());

protocol.registerSchemesAsPrivileged([
  { scheme, privileges: { standard: true, secure: true, supportFetchAPI: true, codeCache: true } },
]);

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    const [win] = BrowserWindow.getAllWindows();
    if (win !== undefined) {
      if (win.isMinimized()) win.restore();
      win.focus();
    }
  });
  app.on('web-contents-created', (_event, contents) => {
    contents.setWindowOpenHandler(({ url }) => {
      if (url.startsWith('https://')) void shell.openExternal(url);
      return { action: 'deny' };
    });
    contents.on('will-navigate', (event, url) => {
      if (!url.startsWith(`${appOrigin}/`)) event.preventDefault();
    });
    contents.on('will-attach-webview', (event) => event.preventDefault());
  });
  app.on('window-all-closed', () => app.quit());
  void app.whenReady().then(start).catch((error: unknown) => {
    log.fatal({ err: error }, 'workstation failed to start');
    app.exit(1);
  });
}

function isTrustedSender(frame: WebFrameMain | null): boolean {
  if (frame === null) return false;
  try {
    return new URL(frame.url).origin === appOrigin;
  } catch {
    return false;
  }
}

async function start(): Promise<void> {
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);

  protocol.handle(scheme, async (request) => {
    const url = new URL(request.url);
    const pathname = decodeURIComponent(url.pathname === '/' ? '/index.html' : url.pathname);
    const file = normalize(join(rendererDir, pathname));
    const info = await stat(file).catch(() => undefined);
    if (url.host !== 'workstation' || !file.startsWith(rendererDir + sep) || info?.isFile() !== true) {
      return new Response('Not found', { status: 404 });
    }
    const response = await net.fetch(pathToFileURL(file).toString());
    const headers = new Headers(response.headers);
    headers.set('content-security-policy', contentSecurityPolicy());
    headers.set('x-content-type-options', 'nosniff');
    headers.set('cross-origin-opener-policy', 'same-origin');
    headers.set('cross-origin-embedder-policy', 'require-corp');
    if (extname(file) === '.wasm') headers.set('content-type', 'application/wasm');
    return new Response(response.body, { status: response.status, headers });
  });

  const userDataDir = app.getPath('userData');
  const hub = createEventHub();
  const services = await createWorkstationServices({
    shell: 'electron',
    userDataDir,
    embeddedServerUrl: process.env.PARADIM_SERVER_URL ?? null,
    vault: await openSafeStorageVault(userDataDir, log),
    log,
    broadcast: hub.broadcast,
    deidWorkerScript: join(__dirname, '..', 'deid', 'deid-worker.cjs'),
    // Sign-in pages open in the system browser, never inside the workstation window.
    openExternal: async (url) => {
      if (!url.startsWith('https://') && !url.startsWith('http://localhost') && !url.startsWith('http://127.0.0.1')) throw new Error('refused to open a non-https address');
      await shell.openExternal(url);
    },
  });
  const dispatch = createDispatcher(services.handlers, log.child({ component: 'ipc' }));
  ipcMain.handle(bridgeInvokeChannel, async (event, channel: unknown, input: unknown) => {
    if (!isTrustedSender(event.senderFrame)) return fail(new AppError('FORBIDDEN_SENDER'));
    return dispatch(channel, input, { transport: 'electron', requestId: randomUUID() });
  });
  hub.subscribe((event, payload) => {
    for (const win of BrowserWindow.getAllWindows()) win.webContents.send(bridgeEventChannel, event, payload);
  });
  app.on('before-quit', () => services.dispose());

  Menu.setApplicationMenu(
    Menu.buildFromTemplate([
      ...(process.platform === 'darwin' ? [{ role: 'appMenu' as const }] : []),
      { role: 'fileMenu' },
      { role: 'editMenu' },
      { role: 'viewMenu' },
      { role: 'windowMenu' },
    ]),
  );

  const win = new BrowserWindow({
    title: productName,
    width: 1400,
    height: 900,
    show: false,
    webPreferences: {
      preload: join(__dirname, 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  await win.loadURL(`${appOrigin}/index.html`);
}
