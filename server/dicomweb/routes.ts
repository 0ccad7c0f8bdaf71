import type { FastifyContextConfig, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../shared/errors/app-error.js';
import { isUid } from './instance-record.js';
import { search } from './qido.js';
import { renderInstance } from './rendered.js';
import type { DicomwebServices } from './services.js';
import { storeInstances } from './stow.js';
import { deleteScope, retrieveBulkData, retrieveFrames, retrieveInstances, retrieveMetadata } from './wado.js';

/** What a DICOMweb route does; the names are the audit trail's actions. `preflight` is the CORS OPTIONS answer. */
export type DicomwebAction =
  | 'dicomweb.store'
  | 'dicomweb.search'
  | 'dicomweb.retrieve'
  | 'dicomweb.retrieve-metadata'
  | 'dicomweb.retrieve-rendered'
  | 'dicomweb.delete'
  | 'preflight';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on every DICOMweb route: hooks (authorization, audit) read it to know what is asked. */
    dicomwebAction?: DicomwebAction;
  }
}

export interface DicomwebRouteOptions {
  services: DicomwebServices;
  /**
   * Extra config per route, merged into each route's `config` (e.g. the access rule the auth module checks). Route
   * parameters are `study`, `series`, `instance` (and whatever the mount prefix declares, e.g. `album`).
   */
  routeConfig?: (action: DicomwebAction) => FastifyContextConfig;
  /** Runs inside the DICOMweb scope before the routes exist: the place for `onRequest`/`preHandler` hooks of this mount only. */
  setup?: (scope: FastifyInstance) => void | Promise<void>;
}

interface UidParams {
  study?: string;
  series?: string;
  instance?: string;
  frames?: string;
  reference?: string;
}

function uids(request: FastifyRequest): { study: string; series?: string; instance?: string } {
  const params = request.params as UidParams;
  for (const name of ['study', 'series', 'instance'] as const) {
    const value = params[name];
    if (value !== undefined && !isUid(value)) throw new AppError('INVALID_INPUT', [{ path: name, issue: 'is not a valid DICOM UID' }]);
  }
  const out: { study: string; series?: string; instance?: string } = { study: params.study ?? '' };
  if (params.series !== undefined) out.series = params.series;
  if (params.instance !== undefined) out.instance = params.instance;
  return out;
}

const exposed = 'Content-Type, Content-Length, Content-Location, ETag, Warning, X-Total-Count';

/**
 * Mounts the DICOMweb API (STOW-RS, QIDO-RS, WADO-RS, DELETE) in an encapsulated scope. Register it once per root:
 * `app.register(dicomwebRoutes, { prefix: '/dicomweb', services })` and, later,
 * `app.register(dicomwebRoutes, { prefix: '/albums/:album/dicomweb', services, setup, routeConfig })`.
 */
export async function dicomwebRoutes(scope: FastifyInstance, options: DicomwebRouteOptions): Promise<void> {
  const { services } = options;
  const config = (action: DicomwebAction): FastifyContextConfig => ({ ...options.routeConfig?.(action), dicomwebAction: action });

  // STOW bodies are streamed by the handler, never buffered by Fastify.
  scope.addContentTypeParser('multipart/related', (_request, payload, done) => done(null, payload));

  const origins = services.options.corsOrigins;
  if (origins.length > 0) {
    scope.addHook('onRequest', async (request, reply) => {
      const origin = request.headers.origin;
      if (origin === undefined) return;
      if (!origins.includes('*') && !origins.includes(origin)) return;
      void reply.header('access-control-allow-origin', origins.includes('*') ? '*' : origin).header('vary', 'Origin').header('access-control-expose-headers', exposed);
    });
  }
  scope.options('/*', { config: config('preflight') }, async (request, reply) => {
    const origin = request.headers.origin;
    if (origin !== undefined && (origins.includes('*') || origins.includes(origin))) {
      void reply
        .header('access-control-allow-methods', 'GET, HEAD, POST, DELETE, OPTIONS')
        .header('access-control-allow-headers', 'Authorization, Accept, Content-Type, If-None-Match')
        .header('access-control-max-age', '600');
    }
    return reply.status(204).send();
  });

  await options.setup?.(scope);

  // STOW-RS
  scope.post('/studies', { config: config('dicomweb.store') }, async (request, reply) => {
    await storeInstances(services, request, reply);
    return reply;
  });
  scope.post('/studies/:study', { config: config('dicomweb.store') }, async (request, reply) => {
    await storeInstances(services, request, reply, uids(request).study);
    return reply;
  });

  // QIDO-RS
  const searchAt = (level: 'study' | 'series' | 'instance') => async (request: FastifyRequest, reply: FastifyReply) => {
    const params = uids(request);
    await search(services, request, reply, level, { study: params.study === '' ? undefined : params.study, series: params.series });
    return reply;
  };
  const searchConfig = { config: config('dicomweb.search') };
  scope.get('/studies', searchConfig, searchAt('study'));
  scope.get('/series', searchConfig, searchAt('series'));
  scope.get('/instances', searchConfig, searchAt('instance'));
  scope.get('/studies/:study/series', searchConfig, searchAt('series'));
  scope.get('/studies/:study/instances', searchConfig, searchAt('instance'));
  scope.get('/studies/:study/series/:series/instances', searchConfig, searchAt('instance'));

  // WADO-RS
  const retrieveConfig = { config: config('dicomweb.retrieve') };
  const retrieve = async (request: FastifyRequest, reply: FastifyReply) => {
    await retrieveInstances(services, request, reply, uids(request));
    return reply;
  };
  scope.get('/studies/:study', retrieveConfig, retrieve);
  scope.get('/studies/:study/series/:series', retrieveConfig, retrieve);
  scope.get('/studies/:study/series/:series/instances/:instance', retrieveConfig, retrieve);

  const metadataConfig = { config: config('dicomweb.retrieve-metadata') };
  const metadata = async (request: FastifyRequest, reply: FastifyReply) => {
    await retrieveMetadata(services, request, reply, uids(request));
    return reply;
  };
  scope.get('/studies/:study/metadata', metadataConfig, metadata);
  scope.get('/studies/:study/series/:series/metadata', metadataConfig, metadata);
  scope.get('/studies/:study/series/:series/instances/:instance/metadata', metadataConfig, metadata);

  scope.get('/studies/:study/series/:series/instances/:instance/frames/:frames', retrieveConfig, async (request, reply) => {
    await retrieveFrames(services, request, reply, uids(request), (request.params as UidParams).frames ?? '');
    return reply;
  });
  scope.get('/studies/:study/series/:series/instances/:instance/bulkdata/:reference', metadataConfig, async (request, reply) => {
    await retrieveBulkData(services, request, reply, uids(request), (request.params as UidParams).reference ?? '');
    return reply;
  });

  const renderedConfig = { config: config('dicomweb.retrieve-rendered') };
  const rendered = async (request: FastifyRequest, reply: FastifyReply) => {
    await renderInstance(services, request, reply, uids(request));
    return reply;
  };
  scope.get('/studies/:study/series/:series/instances/:instance/rendered', renderedConfig, rendered);
  scope.get('/studies/:study/series/:series/instances/:instance/thumbnail', renderedConfig, rendered);
  scope.get('/studies/:study/series/:series/instances/:instance/frames/:frames/rendered', renderedConfig, rendered);

  // DELETE (used by data destruction)
  const deleteConfig = { config: config('dicomweb.delete') };
  const remove = async (request: FastifyRequest, reply: FastifyReply) => {
    await deleteScope(services, request, reply, uids(request));
    return reply;
  };
  scope.delete('/studies/:study', deleteConfig, remove);
  scope.delete('/studies/:study/series/:series', deleteConfig, remove);
  scope.delete('/studies/:study/series/:series/instances/:instance', deleteConfig, remove);
}
