import { execFile, fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBrowserWorkstation } from './browser-shell/browser-workstation.js';
import { createLogger } from './logging/logger.js';
import { defaultUserDataDir } from './paths.js';
import { bootstrapTokenFile } from './services/session-bootstrap.js';
import { writeFileAtomic } from './services/atomic-write.js';

/**
 * `npm start`: starts the embedded companion server, then the workstation: the Electron app when its binary
 * is installed, otherwise the browser shell, whose address is printed.
 */
const appDir = join(__dirname, '..');
const log = createLogger({ name: 'launcher', level: process.env.PARADIM_LOG_LEVEL ?? 'warn' });

function electronBinary(): string | null {
  try {
    const resolved: unknown = createRequire(__filename)('electron');
    return typeof resolved === 'string' && existsSync(resolved) ? resolved : null;
  } catch {
    return null;
  }
}

function startEmbeddedServer(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  // The embedded server logs warnings and errors only, unless PARADIM_LOG_LEVEL asks for more.
  const logLevel = process.env.PARADIM_LOG_LEVEL ?? 'warn';
  const child = fork(join(appDir, 'server', 'cli.cjs'), ['serve', '--port', process.env.PARADIM_SERVER_PORT ?? '0', '--data', dataDir, '--log-level', logLevel], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the companion server did not start within 60 s')), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the companion server exited during start-up (code ${String(code)})`));
    });
    child.on('message', (message: unknown) => {
      if (typeof message === 'object' && message !== null && 'url' in message && typeof message.url === 'string') {
        clearTimeout(timer);
        resolve({ child, url: message.url });
      }
    });
  });
}

/**
 * First start with the embedded server: it is this user's own server, so make them its administrator and give the
 * workstation a token (handed over in a user-only file that the workstation consumes at start). Later starts reuse
 * the saved session.
 */
async function bootstrapEmbeddedAccount(serverDataDir: string, userDataDir: string): Promise<void> {
  const marker = join(serverDataDir, 'workstation-bootstrapped');
  if (existsSync(marker)) return;
  const cli = join(appDir, 'server', 'cli.cjs');
  const run = promisify(execFile);
  const name = userInfo().username;
  await run(process.execPath, [cli, 'user', 'create', '--data', serverDataDir, '--name', name, '--admin']);
  const { stdout } = await run(process.execPath, [
    cli, 'token', 'create', '--data', serverDataDir, '--user', name,
    '--permissions', 'read,write,download', '--expires', '365d', '--label', 'This workstation (embedded server)',
  ]);
  await writeFileAtomic(bootstrapTokenFile(userDataDir), stdout.trim());
  await writeFileAtomic(marker, `${new Date().toISOString()}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      browser: { type: 'boolean', default: false },
      'no-server': { type: 'boolean', default: false },
      port: { type: 'string', default: process.env.PARADIM_SHELL_PORT ?? '0' },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`--port must be a whole number from 0 to 65535, got "${values.port}"\n`);
    process.exit(2);
  }
  const userDataDir = defaultUserDataDir();
  const children: ChildProcess[] = [];
  let serverUrl: string | null = null;
  if (!values['no-server']) {
    const serverDataDir = join(userDataDir, 'companion-server');
    await bootstrapEmbeddedAccount(serverDataDir, userDataDir);
    const server = await startEmbeddedServer(serverDataDir);
    children.push(server.child);
    serverUrl = server.url;
    process.stdout.write(`Companion server: ${serverUrl}\n`);
  }
  // On the way out, the companion server is asked to stop and given time to finish its writes (audit, index).
  const stopAll = (code: number): void => {
    const running = children.filter((child) => child.exitCode === null && child.signalCode === null);
    const exited = running.map((child) => new Promise((resolve) => child.once('exit', resolve)));
    for (const child of running) child.kill('SIGTERM');
    const deadline = setTimeout(() => {
      for (const child of running) child.kill('SIGKILL');
      process.exit(code);
    }, 10_000);
    void Promise.all(exited).then(() => {
      clearTimeout(deadline);
      process.exit(code);
    });
  };

  const electron = values.browser ? null : electronBinary();
  if (electron !== null) {
    const app = spawn(electron, [join(appDir, 'main', 'electron-main.cjs')], {
      stdio: 'inherit',
      env: { ...process.env, ...(serverUrl === null ? {} : { PARADIM_SERVER_URL: serverUrl }) },
    });
    children.push(app);
    app.on('exit', (code) => stopAll(code ?? 0));
  } else {
    const shell = await startBrowserWorkstation({
      rendererDir: join(appDir, 'renderer'),
      userDataDir,
      embeddedServerUrl: serverUrl,
      log,
      port,
      deidWorkerScript: existsSync(join(appDir, 'deid', 'deid-worker.cjs')) ? join(appDir, 'deid', 'deid-worker.cjs') : null,
    });
    if (!values.browser) {
      process.stdout.write('The Electron binary is not installed here, so the workstation runs in the browser shell.\n');
    }
    process.stdout.write(`Workstation URL: ${shell.url}\nOpen it in Chromium, Chrome, Edge or Firefox on this computer. Press Ctrl+C to stop.\n`);
    const shutdown = (): void => {
      void shell.close().finally(() => stopAll(0));
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  }
}

main().catch((error: unknown) => {
  log.fatal({ err: error }, 'the workstation could not start');
  process.stderr.write(`The workstation could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
