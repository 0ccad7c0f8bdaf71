import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { AppError } from '../shared/errors/app-error.js';
import { zodDetails } from '../shared/ipc/envelope.js';

export const serverConfigSchema = z.strictObject({
  /** Loopback unless the operator says otherwise. */
  host: z.string().min(1).default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(8043),
  dataDir: z.string({ error: 'is required: pass --data DIR or set PARADIM_DATA_DIR' }).min(1, 'must name a folder'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type ServerConfig = z.output<typeof serverConfigSchema>;

const envNames: Record<keyof ServerConfig, string> = {
  host: 'PARADIM_SERVER_HOST',
  port: 'PARADIM_SERVER_PORT',
  dataDir: 'PARADIM_DATA_DIR',
  logLevel: 'PARADIM_LOG_LEVEL',
};

/**
 * Configuration from, in increasing precedence: a JSON file, the environment, command-line options.
 * Anything invalid stops the start with a message naming the setting and its source.
 */
export async function loadServerConfig(options: {
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cli?: Partial<Record<keyof ServerConfig, string | undefined>>;
  defaults?: Partial<ServerConfig>;
}): Promise<ServerConfig> {
  let fromFile: Record<string, unknown> = {};
  if (options.file !== undefined) {
    let text: string;
    try {
      text = await readFile(options.file, 'utf8');
    } catch {
      throw new AppError('CONFIG_INVALID', [{ path: options.file, issue: 'cannot be read' }]);
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      fromFile = parsed as Record<string, unknown>;
    } catch {
      throw new AppError('CONFIG_INVALID', [{ path: options.file, issue: 'is not a JSON object' }]);
    }
  }
  const env = options.env ?? process.env;
  const fromEnv = Object.fromEntries(
    Object.entries(envNames).flatMap(([key, name]) => (env[name] === undefined || env[name] === '' ? [] : [[key, env[name]]])),
  );
  const fromCli = Object.fromEntries(Object.entries(options.cli ?? {}).filter((entry) => entry[1] !== undefined));
  const merged = { ...options.defaults, ...fromFile, ...fromEnv, ...fromCli };
  const result = serverConfigSchema.safeParse(merged);
  if (!result.success) {
    const source = (key: string): string =>
      key in fromCli ? `--${key === 'dataDir' ? 'data' : key}` : key in fromEnv ? envNames[key as keyof ServerConfig] : `${options.file ?? 'config'}: ${key}`;
    throw new AppError(
      'CONFIG_INVALID',
      zodDetails(result.error).map((detail) => ({ path: source(detail.path.split('.')[0] ?? detail.path), issue: detail.issue })),
    );
  }
  return { ...result.data, dataDir: resolve(result.data.dataDir) };
}

/** Where the embedded server keeps its index and files when no folder is named. */
export function defaultDataDir(): string {
  if (process.platform === 'win32') return join(process.env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'PARADIM Server');
  return join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'paradim-server');
}
