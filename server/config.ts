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
  /** PostgreSQL index (`postgres://…`); SQLite in the data folder when absent. */
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  /** S3-compatible blob storage; files in the data folder when no bucket is named. */
  s3Bucket: z.string().min(3).optional(),
  s3Endpoint: z.url({ error: 'must be a URL such as http://127.0.0.1:9000' }).optional(),
  s3Region: z.string().min(1).default('us-east-1'),
  s3Prefix: z.string().default(''),
  s3ForcePathStyle: z.stringbool().or(z.boolean()).default(true),
  s3AccessKeyId: z.string().min(1).optional(),
  s3SecretAccessKey: z.string().min(1).optional(),
  /** Origins allowed to call DICOMweb from a browser (comma-separated, or `*`). */
  corsOrigins: z
    .union([z.string(), z.array(z.string())])
    .transform((value) => (Array.isArray(value) ? value : value.split(',')).map((origin) => origin.trim()).filter((origin) => origin !== ''))
    .default([]),
  /** QIDO-RS results per request at most. */
  maxResults: z.coerce.number().int().min(1).max(100_000).default(1000),
  /** Unindexed blobs younger than this are left alone at start-up (other replicas may be storing them). Default: 0 embedded, 900 with PostgreSQL. */
  orphanGraceSeconds: z.coerce.number().int().min(0).optional(),
});

export type ServerConfig = z.output<typeof serverConfigSchema>;

const envNames: Record<keyof ServerConfig, string> = {
  host: 'PARADIM_SERVER_HOST',
  port: 'PARADIM_SERVER_PORT',
  dataDir: 'PARADIM_DATA_DIR',
  logLevel: 'PARADIM_LOG_LEVEL',
  databaseUrl: 'DATABASE_URL',
  s3Bucket: 'PARADIM_S3_BUCKET',
  s3Endpoint: 'PARADIM_S3_ENDPOINT',
  s3Region: 'PARADIM_S3_REGION',
  s3Prefix: 'PARADIM_S3_PREFIX',
  s3ForcePathStyle: 'PARADIM_S3_FORCE_PATH_STYLE',
  s3AccessKeyId: 'PARADIM_S3_ACCESS_KEY_ID',
  s3SecretAccessKey: 'PARADIM_S3_SECRET_ACCESS_KEY',
  corsOrigins: 'PARADIM_CORS_ORIGINS',
  maxResults: 'PARADIM_QIDO_MAX_RESULTS',
  orphanGraceSeconds: 'PARADIM_ORPHAN_GRACE_SECONDS',
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
