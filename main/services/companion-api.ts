import type { z } from 'zod';
import { AppError, type ErrorDetail } from '../../shared/errors/app-error.js';
import { isErrorCode, type ErrorCode } from '../../shared/errors/error-table.js';

/**
 * The workstation's HTTP client of the companion server (main only; the window never talks to the server).
 * Every answer is checked against a schema; every failure becomes an AppError that says what and where.
 */
export class CompanionApi {
  readonly #baseUrl: () => string | null;
  readonly #timeoutMs: number;

  constructor(baseUrl: () => string | null, options: { timeoutMs?: number } = {}) {
    this.#baseUrl = baseUrl;
    this.#timeoutMs = options.timeoutMs ?? 15_000;
  }

  get baseUrl(): string | null {
    return this.#baseUrl();
  }

  async request<T extends z.ZodType>(
    schema: T,
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    options: { bearer?: string | null; body?: unknown } = {},
  ): Promise<z.output<T>> {
    const base = this.#baseUrl();
    if (base === null) throw new AppError('SERVER_UNREACHABLE', [{ path: 'serverUrl', issue: 'no companion server is configured' }]);
    const url = new URL(path.replace(/^\//, ''), base.endsWith('/') ? base : `${base}/`);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          accept: 'application/json',
          ...(options.bearer == null ? {} : { authorization: `Bearer ${options.bearer}` }),
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      throw new AppError('SERVER_UNREACHABLE', [{ path: url.origin, issue: describeNetworkError(error) }], { cause: error });
    }
    if (response.status === 204) return schema.parse({}) as z.output<T>;
    const text = await response.text();
    let body: unknown;
    try {
      body = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new AppError('SERVER_FAILED', [{ path: url.pathname, issue: `the server answered HTTP ${response.status} with something that is not JSON` }]);
    }
    if (!response.ok) throw errorFromResponse(response.status, body);
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw new AppError('SERVER_FAILED', [{ path: url.pathname, issue: 'the server answered in an unexpected format (version mismatch?)' }]);
    return parsed.data as z.output<T>;
  }
}

function errorFromResponse(status: number, body: unknown): AppError {
  const error = typeof body === 'object' && body !== null && 'error' in body ? (body as { error: unknown }).error : null;
  const code = typeof error === 'object' && error !== null && 'code' in error ? (error as { code: unknown }).code : null;
  const rawDetails = typeof error === 'object' && error !== null && 'details' in error ? (error as { details: unknown }).details : [];
  const details: ErrorDetail[] = Array.isArray(rawDetails)
    ? rawDetails.flatMap((d: unknown) =>
        typeof d === 'object' && d !== null && typeof (d as ErrorDetail).path === 'string' && typeof (d as ErrorDetail).issue === 'string'
          ? [{ path: (d as ErrorDetail).path, issue: (d as ErrorDetail).issue }]
          : [],
      )
    : [];
  if (isErrorCode(code) && code !== 'INTERNAL') return new AppError(code, details);
  const byStatus: Record<number, ErrorCode> = { 400: 'INVALID_INPUT', 401: 'UNAUTHENTICATED', 403: 'FORBIDDEN', 404: 'NOT_FOUND' };
  return new AppError(byStatus[status] ?? 'SERVER_FAILED', details.length > 0 ? details : [{ path: '', issue: `HTTP ${status}` }]);
}

export function describeNetworkError(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return 'the server did not answer in time';
  const cause = error instanceof Error && typeof error.cause === 'object' && error.cause !== null ? error.cause : {};
  const code = 'code' in cause ? String(cause.code) : '';
  if (code === 'ECONNREFUSED') return 'the connection was refused (is the server running?)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'the server name could not be resolved';
  if (code.startsWith('CERT_') || code.includes('SELF_SIGNED') || code.includes('UNABLE_TO_VERIFY')) return 'the server certificate is not trusted';
  return code === '' ? 'the server could not be reached' : `the server could not be reached (${code})`;
}
