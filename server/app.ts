import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import Fastify from 'fastify';
import type { Logger } from 'pino';
import { AppError } from '../shared/errors/app-error.js';
import { errorTable } from '../shared/errors/error-table.js';
import { toWireError } from '../shared/ipc/envelope.js';
import type { ServerConfig } from './config.js';
import { dicomwebRoutes } from './dicomweb/routes.js';
import { defaultDicomwebOptions, type DicomwebServices } from './dicomweb/services.js';
import { RequestLog } from './logging/request-log.js';
import { openStorage, repairOrphans, type Storage } from './storage/open-storage.js';

export const serverVersion: string = process.env.PARADIM_VERSION ?? '0.0.0-dev';

/**
 * Builds the companion server without listening, so tests inject requests with no port.
 * DICOMweb, albums, tokens and the audit trail are added by their own modules.
 */
export type ServerApp = Awaited<ReturnType<typeof buildServer>>;

declare module 'fastify' {
  interface FastifyInstance {
    /** The DICOMweb services, for mounting the routes again (e.g. under `/albums/:album/dicomweb`). */
    dicomweb: DicomwebServices;
  }
}

async function openDicomStorage(config: ServerConfig, log: Logger): Promise<Storage> {
  const storage = await openStorage({
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    s3:
      config.s3Bucket === undefined
        ? undefined
        : {
            bucket: config.s3Bucket,
            prefix: config.s3Prefix,
            endpoint: config.s3Endpoint,
            region: config.s3Region,
            forcePathStyle: config.s3ForcePathStyle,
            accessKeyId: config.s3AccessKeyId,
            secretAccessKey: config.s3SecretAccessKey,
          },
    orphanGraceMs: 0,
  });
  const graceSeconds = config.orphanGraceSeconds ?? (config.databaseUrl === undefined ? 0 : 900);
  try {
    await repairOrphans(storage, { dataDir: config.dataDir, graceMs: graceSeconds * 1000, log });
  } catch (error) {
    await storage.close();
    throw error;
  }
  return storage;
}

export async function buildServer(config: ServerConfig, log: Logger) {
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const app = Fastify({ loggerInstance: log, logController: new RequestLog(), requestIdHeader: false, bodyLimit: 1024 * 1024 });

  app.setErrorHandler((error, request, reply) => {
    const known = error instanceof AppError;
    const frameworkStatus =
      typeof error === 'object' && error !== null && 'statusCode' in error && typeof error.statusCode === 'number' ? error.statusCode : 500;
    const status = known ? error.httpStatus : frameworkStatus;
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    // Fastify's own 4xx (bad JSON, body too large) say what is wrong without echoing the input.
    const wire =
      known || status >= 500
        ? toWireError(error)
        : { code: 'INVALID_INPUT' as const, message: errorTable.INVALID_INPUT.message, details: [{ path: '', issue: error instanceof Error ? error.message : 'bad request' }] };
    void reply.status(status).send({ error: wire });
  });
  app.setNotFoundHandler((_request, reply) => {
    void reply.status(404).send({ error: toWireError(new AppError('NOT_FOUND')) });
  });

  const storage = await openDicomStorage(config, log);
  app.addHook('onClose', async () => storage.close());
  const dicomweb: DicomwebServices = {
    index: storage.index,
    blobs: storage.blobs,
    options: { ...defaultDicomwebOptions, corsOrigins: config.corsOrigins, maxResults: config.maxResults },
  };
  app.decorate('dicomweb', dicomweb);

  app.get('/healthz', async () => ({ status: 'ok', name: 'paradim-server', version: serverVersion }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await access(config.dataDir, constants.W_OK);
    } catch {
      return reply.status(503).send({ status: 'not-ready', reason: 'the data folder is not writable' });
    }
    if (!(await storage.index.ready())) return reply.status(503).send({ status: 'not-ready', reason: 'the index database does not answer' });
    return { status: 'ready' };
  });
  await app.register(dicomwebRoutes, { prefix: '/dicomweb', services: dicomweb });
  return app;
}
