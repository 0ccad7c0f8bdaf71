import { z } from 'zod';
import { AppError, type ErrorDetail } from '../errors/app-error.js';
import { errorTable, isErrorCode, type ErrorCode } from '../errors/error-table.js';

/**
 * Every contract call answers with an envelope, never a thrown error: errors thrown through
 * Electron IPC lose everything but their message, and a WebSocket carries no exceptions at all.
 */
export type Envelope<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: WireError };

export interface WireError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details: readonly ErrorDetail[];
}

export const wireErrorSchema = z.strictObject({
  code: z.string().refine(isErrorCode, 'unknown error code'),
  message: z.string(),
  details: z.array(z.strictObject({ path: z.string(), issue: z.string() })),
});

export function ok<T>(value: T): Envelope<T> {
  return { ok: true, value };
}

/** Turns any failure into the wire form. Unknown errors become INTERNAL and reveal nothing. */
export function toWireError(error: unknown): WireError {
  if (error instanceof AppError) {
    return { code: error.code, message: errorTable[error.code].message, details: error.details };
  }
  return { code: 'INTERNAL', message: errorTable.INTERNAL.message, details: [] };
}

export function fail(error: unknown): Envelope<never> {
  return { ok: false, error: toWireError(error) };
}

/** Rebuilds the AppError on the receiving side so callers handle one error type everywhere. */
export function fromWireError(error: WireError): AppError {
  return new AppError(error.code, error.details);
}

/** zod issues → details that say what is wrong and where, without echoing the rejected value. */
export function zodDetails(error: z.ZodError): ErrorDetail[] {
  return error.issues.map((issue) => ({
    path: issue.path.map((part) => (typeof part === 'number' ? `[${part}]` : String(part))).join('.').replace(/\.\[/g, '['),
    issue: issue.message,
  }));
}
