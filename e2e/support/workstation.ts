import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..');

export interface RunningWorkstation {
  readonly url: string;
  readonly origin: string;
  readonly serverUrl: string;
  readonly output: () => string;
  /** The embedded companion server's data folder (index, blobs, audit trail). */
  readonly serverDataDir: string;
  stop(): Promise<void>;
}

/**
 * Starts the product exactly as `npm start` does after building (`node app/main/launcher.cjs`), with a fresh user
 * data folder, and returns the workstation URL it prints.
 */
export async function startWorkstation(options: { env?: Record<string, string> } = {}): Promise<RunningWorkstation> {
  const launcher = join(repoRoot, 'app', 'main', 'launcher.cjs');
  if (!existsSync(launcher)) throw new Error(`${launcher} is missing: run "npm run build" before the e2e tests`);
  const userData = await mkdtemp(join(tmpdir(), 'paradim-e2e-user-'));
  const child: ChildProcess = spawn(process.execPath, [launcher, '--browser'], {
    cwd: repoRoot,
    env: { ...process.env, PARADIM_USER_DATA: userData, PARADIM_LOG_LEVEL: 'warn', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the workstation printed no URL within 60 s:\n${output}`)), 60_000);
    const onData = (): void => {
      const match = /Workstation URL: (\S+)/.exec(output);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the workstation exited with ${String(code)}:\n${output}`));
    });
  });
  const serverUrl = /Companion server: (\S+)/.exec(output)?.[1] ?? '';
  return {
    url,
    origin: new URL(url).origin,
    serverUrl,
    output: () => output,
    serverDataDir: join(userData, 'companion-server'),
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(userData, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    },
  };
}
