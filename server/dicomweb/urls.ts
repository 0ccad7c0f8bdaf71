import type { FastifyRequest } from 'fastify';

/**
 * The absolute DICOMweb root of this request (`http://host:port/dicomweb` or `…/albums/{id}/dicomweb`): the path up
 * to the first DICOMweb resource segment. Used for RetrieveURL and BulkDataURI so each mount answers with its own URLs.
 */
export function dicomwebBase(request: FastifyRequest): string {
  const path = request.url.split('?')[0] ?? '';
  const match = /\/(studies|series|instances)(\/|$)/.exec(path);
  const root = match === null ? path.replace(/\/$/, '') : path.slice(0, match.index);
  return `${request.protocol}://${request.host}${root}`;
}
