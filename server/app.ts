import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import type { Logger } from 'pino';
import { AppError } from '../shared/errors/app-error.js';
import { errorTable } from '../shared/errors/error-table.js';
import { toWireError } from '../shared/ipc/envelope.js';
import type { ServerConfig } from './config.js';
import { dicomwebRoutes } from './dicomweb/routes.js';
import { defaultDicomwebOptions, type DicomwebServices } from './dicomweb/services.js';
import { RequestLog } from './logging/request-log.js';
import { auditPaths } from './audit/audit-log.js';
import { loadOrCreateSigner } from './audit/audit-signer.js';
import { AlbumScopedIndex, albumContextHook, albumDicomwebRule, albumScopedBlobs } from './auth/album-scope.js';
import type { AccessRule } from './auth/access-control.js';
import { globalDicomwebRule } from './auth/dicomweb-access.js';
import { loadIdentityConfig } from './auth/identity-config.js';
import { attachIdentity, type IdentityModule } from './auth/identity-module.js';
import { seriesModalities } from './auth/series-modalities.js';
import { destroyAlbum, type DestructionCertificate, type DestructionRequest } from './destruction/destroy-album.js';
import { startDestructionScheduler, type DestructionScheduler } from './destruction/destruction-scheduler.js';

export interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
  readonly access: AccessRule | undefined;
}
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
    /** Users, albums, tokens and the audit trail. */
    identity: IdentityModule;
    destructionScheduler: DestructionScheduler;
    /** Every route with its access rule, as registered (for the authorization matrix and diagnostics). */
    routeTable: readonly RegisteredRoute[];
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

/** Health and readiness answer anyone and are not audited: they carry no data. */
const publicRoute = { config: { access: { action: 'request.other', permission: null, public: true } satisfies AccessRule } };

export async function buildServer(config: ServerConfig, log: Logger, options: { env?: NodeJS.ProcessEnv } = {}) {
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const app = Fastify({ loggerInstance: log as FastifyBaseLogger, logController: new RequestLog(), requestIdHeader: false, bodyLimit: 1024 * 1024 });

  const routeTable: RegisteredRoute[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') routeTable.push({ method, url: route.url, access: (route.config as { access?: AccessRule } | undefined)?.access });
    }
  });
  app.decorate('routeTable', routeTable);

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

  // Identity, access control and the audit trail come first: every route registered after declares its access rule.
  const identityConfig = loadIdentityConfig(options.env ?? process.env);
  const signer = loadOrCreateSigner(auditPaths(config.dataDir, identityConfig.auditKeyFile, config.databaseUrl).keyFile);
  const destroy = (request: DestructionRequest): Promise<DestructionCertificate> =>
    destroyAlbum({ identity: identity.identity, audit: identity.audit, index: storage.index, blobs: storage.blobs, signer, dataDir: config.dataDir }, request);
  const identity: IdentityModule = await attachIdentity(app, {
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    auditKeyFile: identityConfig.auditKeyFile,
    oidc: identityConfig.oidc,
    ssoClient: identityConfig.ssoClient,
    seriesExists: async (study, series) => (await storage.index.instances({ study, series })).length > 0,
    modalitiesOf: seriesModalities(storage.index),
    destroyAlbum: destroy,
  });
  // At the end of the ethics approval (the album's destruction date) the server destroys the album by itself.
  const destructionScheduler = startDestructionScheduler({
    identity: identity.identity,
    destroy,
    log: log.child({ component: 'destruction' }),
  });
  app.addHook('onClose', async () => {
    await destructionScheduler.stop();
    await identity.close();
  });
  app.decorate('identity', identity);
  app.decorate('destructionScheduler', destructionScheduler);

  app.get('/healthz', publicRoute, async () => ({ status: 'ok', name: 'paradim-server', version: serverVersion }));
  app.get('/readyz', publicRoute, async (_request, reply) => {
    try {
      await access(config.dataDir, constants.W_OK);
    } catch {
      return reply.status(503).send({ status: 'not-ready', reason: 'the data folder is not writable' });
    }
    if (!(await storage.index.ready())) return reply.status(503).send({ status: 'not-ready', reason: 'the index database does not answer' });
    return { status: 'ready' };
  });
  // The server-wide root (administrators: PACS peers, pipelines) and the album-scoped roots (everyone else).
  await app.register(dicomwebRoutes, { prefix: '/dicomweb', services: dicomweb, routeConfig: (action) => ({ access: globalDicomwebRule(action) }) });
  await app.register(dicomwebRoutes, {
    prefix: '/albums/:album/dicomweb',
    services: { ...dicomweb, index: new AlbumScopedIndex(storage.index, identity.identity), blobs: albumScopedBlobs(storage.blobs) },
    routeConfig: (action) => ({ access: albumDicomwebRule(action) }),
    setup: albumContextHook,
  });
  return app;
}
