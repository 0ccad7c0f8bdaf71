import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { AppError } from '../../shared/errors/app-error.js';
import { toWireError } from '../../shared/ipc/envelope.js';
import { auditPaths } from '../audit/audit-log.js';
import { loadOrCreateSigner } from '../audit/audit-signer.js';
import { AlbumScopedIndex, albumContextHook, albumDicomwebRule, albumScopedBlobs } from '../auth/album-scope.js';
import { globalDicomwebRule } from '../auth/dicomweb-access.js';
import { seriesModalities } from '../auth/series-modalities.js';
import { attachIdentity, type IdentityModule } from '../auth/identity-module.js';
import { destroyAlbum } from '../destruction/destroy-album.js';
import { dicomwebRoutes } from '../dicomweb/routes.js';
import { defaultDicomwebOptions } from '../dicomweb/services.js';
import type { Storage } from '../storage/open-storage.js';
import { multipartBody } from './dicomweb-helpers.js';

/**
 * A server app with identity, audit, the server-wide and album-scoped DICOMweb roots and destruction, on the storage
 * a test chooses (SQLite + files, or PostgreSQL + S3), built without listening.
 */
export async function identityApp(options: {
  dataDir: string;
  storage: Storage;
  databaseUrl?: string;
}): Promise<{ app: FastifyInstance; identity: IdentityModule }> {
  const { dataDir, storage } = options;
  const app = Fastify({ loggerInstance: pino({ level: 'silent' }) }) as unknown as FastifyInstance;
  app.setErrorHandler((error, _request, reply) => {
    void reply.status(error instanceof AppError ? error.httpStatus : ((error as { statusCode?: number }).statusCode ?? 500)).send({ error: toWireError(error) });
  });
  const paths = auditPaths(dataDir, undefined, options.databaseUrl);
  const signer = loadOrCreateSigner(paths.keyFile);
  const identity: IdentityModule = await attachIdentity(app, {
    dataDir,
    databaseUrl: options.databaseUrl,
    modalitiesOf: seriesModalities(storage.index),
    destroyAlbum: (request) => destroyAlbum({ identity: identity.identity, audit: identity.audit, index: storage.index, blobs: storage.blobs, signer, dataDir }, request),
  });
  const services = { index: storage.index, blobs: storage.blobs, options: defaultDicomwebOptions };
  await app.register(dicomwebRoutes, { prefix: '/dicomweb', services, routeConfig: (action) => ({ access: globalDicomwebRule(action) }) });
  await app.register(dicomwebRoutes, {
    prefix: '/albums/:album/dicomweb',
    services: { ...services, index: new AlbumScopedIndex(storage.index, identity.identity), blobs: albumScopedBlobs(storage.blobs) },
    routeConfig: (action) => ({ access: albumDicomwebRule(action) }),
    setup: albumContextHook,
  });
  await app.ready();
  return { app, identity };
}

export function stowAs(app: FastifyInstance, url: string, token: string, parts: Buffer[]): Promise<LightMyRequestResponse> {
  const { body, contentType } = multipartBody(parts);
  return app.inject({ method: 'POST', url, headers: { 'content-type': contentType, accept: 'application/dicom+json', authorization: `Bearer ${token}` }, payload: body });
}
