import './threadpool.js';
import { parseArgs } from 'node:util';
import { AppError } from '../shared/errors/app-error.js';
import { adminCommands, adminUsage, runAdminCommand } from './admin-cli.js';
import { buildServer } from './app.js';
import { defaultDataDir, loadServerConfig } from './config.js';
import { createServerLogger } from './logging/logger.js';

const usage = `Usage: paradim-server serve [--port P] [--host H] [--data DIR] [--config FILE]

Starts the PARADIM companion server (embedded default: files + index in DIR,
default ${defaultDataDir()}). DICOMweb root: /dicomweb.
Environment: PARADIM_SERVER_HOST, PARADIM_SERVER_PORT, PARADIM_DATA_DIR, PARADIM_LOG_LEVEL,
  DATABASE_URL (PostgreSQL index instead of SQLite),
  PARADIM_S3_BUCKET, PARADIM_S3_ENDPOINT, PARADIM_S3_REGION, PARADIM_S3_PREFIX, PARADIM_S3_FORCE_PATH_STYLE,
  PARADIM_S3_ACCESS_KEY_ID, PARADIM_S3_SECRET_ACCESS_KEY (S3-compatible blob storage instead of files),
  PARADIM_CORS_ORIGINS, PARADIM_QIDO_MAX_RESULTS, PARADIM_ORPHAN_GRACE_SECONDS.
The same keys (camelCase, e.g. "databaseUrl") may be given in the --config JSON file.
`;

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      data: { type: 'string' },
      config: { type: 'string' },
      'log-level': { type: 'string' },
    },
  });
  const config = await loadServerConfig({
    file: values.config,
    defaults: { dataDir: defaultDataDir() },
    cli: { port: values.port, host: values.host, dataDir: values.data, logLevel: values['log-level'] },
  });
  const log = createServerLogger({ level: config.logLevel });
  const app = await buildServer(config, log);
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  process.stdout.write(`PARADIM companion server listening on ${url}\n`);
  process.send?.({ type: 'listening', url });
  const shutdown = (): void => {
    void app.close().finally(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  // Started by the workstation launcher: stop with it.
  process.once('disconnect', shutdown);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'serve') {
    await serve(rest);
    return 0;
  }
  if (command !== undefined && adminCommands.has(command)) return runAdminCommand(argv);
  const help = `${usage}\n${adminUsage}`;
  process.stderr.write(command === undefined || command === '--help' ? help : `Unknown command "${command}".\n\n${help}`);
  return command === '--help' ? 0 : 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exit(code);
  },
  (error: unknown) => {
    if (error instanceof AppError) {
      const where = error.details.map((detail) => `  - ${detail.path}: ${detail.issue}`).join('\n');
      process.stderr.write(`${error.message}\n${where}\n`);
      process.exit(2);
    }
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${error.message}\n\n${usage}`);
      process.exit(2);
    }
    process.stderr.write(`The server could not start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
