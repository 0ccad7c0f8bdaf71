import { AsyncLocalStorage } from 'node:async_hooks';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../shared/errors/app-error.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { DicomIndex, InstanceRecord, QidoQuery, QidoRow, Scope, StoreOutcome } from '../storage/dicom-index.js';
import type { AccessRule } from './access-control.js';
import { dicomwebPermission, type DicomwebRouteAction } from './dicomweb-access.js';
import type { MemberFlag } from '../../shared/domain/access.js';
import type { IdentityStore } from './identity-store.js';

/**
 * Album-scoped DICOMweb (`/albums/{album}/dicomweb`): any DICOMweb client (OHIF, Slicer, the workstation) sees only
 * the album's series. The same DICOMweb handlers serve it, given a view of the index that filters every answer to
 * the album, files stored instances into the album, and turns DELETE into "remove from the album" (the images stay
 * for other albums; certified destruction is the way to delete).
 */
interface AlbumContext {
  readonly albumId: string;
  readonly actorId: string | null;
}

const current = new AsyncLocalStorage<AlbumContext>();

function context(): AlbumContext {
  const value = current.getStore();
  if (value === undefined) throw new AppError('INTERNAL', [{ path: 'album', issue: 'album-scoped index used outside an album request' }]);
  return value;
}

/** Sets the album of the request for the album-scoped index; registered inside the album mount, after access control. */
export function albumContextHook(scope: FastifyInstance): void {
  scope.addHook('preHandler', (request, _reply, done) => {
    const albumId = (request.params as { album?: string }).album ?? '';
    // Entered synchronously so the handler, which runs in this continuation, sees it.
    current.enterWith({ albumId, actorId: request.principal?.user.id ?? null });
    done();
  });
}

/** In an album the membership flags add to the token permission: storing adds series, retrieving downloads. */
const memberFlagOf: Partial<Record<Exclude<DicomwebRouteAction, 'preflight'>, MemberFlag>> = {
  'dicomweb.store': 'addSeries',
  'dicomweb.retrieve': 'download',
  'dicomweb.delete': 'removeSeries',
};

export function albumDicomwebRule(action: DicomwebRouteAction): AccessRule {
  if (action === 'preflight') return { action: 'request.other', permission: null, public: true };
  const memberFlag = memberFlagOf[action];
  return { action, albumParam: 'album', permission: dicomwebPermission[action], ...(memberFlag === undefined ? {} : { memberFlag }) };
}

const seriesKey = (study: string, series: string): string => `${study}\u0000${series}`;

export class AlbumScopedIndex implements DicomIndex {
  readonly kind: DicomIndex['kind'];
  readonly #inner: DicomIndex;
  readonly #identity: IdentityStore;

  constructor(inner: DicomIndex, identity: IdentityStore) {
    this.#inner = inner;
    this.#identity = identity;
    this.kind = inner.kind;
  }

  async #allowed(): Promise<Set<string>> {
    return new Set((await this.#identity.listAlbumSeries(context().albumId)).map((s) => seriesKey(s.studyInstanceUID, s.seriesInstanceUID)));
  }

  init(): Promise<void> {
    return this.#inner.init();
  }

  async store(records: readonly InstanceRecord[]): Promise<StoreOutcome[]> {
    const { albumId, actorId } = context();
    const outcomes = await this.#inner.store(records);
    for (const [i, record] of records.entries()) {
      if (outcomes[i] !== 'conflict') await this.#identity.addSeries(albumId, record.studyUID, record.seriesUID, actorId);
    }
    return outcomes;
  }

  async instances(scope: Scope): ReturnType<DicomIndex['instances']> {
    const allowed = await this.#allowed();
    return (await this.#inner.instances(scope)).filter((row) => allowed.has(seriesKey(row.studyUID, row.seriesUID)));
  }

  async metadata(scope: Scope): ReturnType<DicomIndex['metadata']> {
    const keys = new Set((await this.instances(scope)).map((row) => row.blobKey));
    return (await this.#inner.metadata(scope)).filter((row) => keys.has(row.blobKey));
  }

  /** The index answers for the album's series only: matching, paging and computed attributes all see the scope. */
  async query(query: QidoQuery): Promise<{ rows: QidoRow[]; more: boolean }> {
    const series = (await this.#identity.listAlbumSeries(context().albumId)).map((s) => s.seriesInstanceUID);
    if (series.length === 0) return { rows: [], more: false };
    return this.#inner.query({ ...query, seriesScope: series });
  }

  unreferenced(keys: readonly string[]): Promise<string[]> {
    return this.#inner.unreferenced(keys);
  }

  /** DELETE in an album removes the series from the album; the handler receives their keys, the blob view keeps them. */
  async delete(scope: Scope): Promise<string[]> {
    const { albumId, actorId } = context();
    const rows = await this.instances(scope);
    if (scope.instance !== undefined) {
      throw new AppError('FORBIDDEN', [{ path: 'instance', issue: 'single instances cannot be removed from an album; remove the series' }]);
    }
    for (const key of new Set(rows.map((row) => seriesKey(row.studyUID, row.seriesUID)))) {
      const [study, series] = key.split('\u0000') as [string, string];
      await this.#identity.removeSeries(albumId, study, series, actorId);
    }
    return rows.map((row) => row.blobKey);
  }

  ready(): Promise<boolean> {
    return this.#inner.ready();
  }

  close(): Promise<void> {
    // The shared index is closed by its owner.
    return Promise.resolve();
  }
}



/** Blob view for album mounts: deleting from an album never deletes bytes. */
export function albumScopedBlobs(inner: BlobStore): BlobStore {
  return new Proxy(inner, {
    get(target, property, receiver) {
      if (property === 'delete') return async () => undefined;
      if (property === 'close') return async () => undefined;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
