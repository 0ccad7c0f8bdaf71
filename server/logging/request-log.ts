import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

/**
 * One structured line per request with the route template (`/studies/:study`), never the concrete URL:
 * URLs carry UIDs and query values, which are DICOM values and must not reach the logs.
 */
export class RequestLog extends LogController {
  override incomingRequest(): void {
    // The completion line says everything; one line per request keeps the log small.
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      statusCode: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
    };
    if (error != null) request.log.warn({ ...line, err: error }, 'request failed');
    // Health probes (every few seconds from the workstation and load balancers) only at debug level.
    else if (request.routeOptions.url === '/healthz' || request.routeOptions.url === '/readyz') request.log.debug(line, 'request');
    else request.log.info(line, 'request');
  }

  override routeNotFound(request: FastifyRequest): void {
    request.log.info({ method: request.method }, 'route not found');
  }
}
