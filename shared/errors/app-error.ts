import { errorTable, type ErrorCode } from './error-table.js';

/** One precise problem, for the user: what is wrong and where (a field path, a file, a tag). */
export interface ErrorDetail {
  /** Where the problem is, e.g. `serverUrl` or `series[2].files[7]`. Empty for the whole request. */
  readonly path: string;
  /** What is wrong there, in plain words. Never a patient value or a secret. */
  readonly issue: string;
}

/** An expected failure. Anything thrown that is not an AppError is a bug. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: readonly ErrorDetail[];

  constructor(code: ErrorCode, details: readonly ErrorDetail[] = [], options?: { cause?: unknown }) {
    super(errorTable[code].message, options);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }

  get httpStatus(): number {
    return errorTable[this.code].httpStatus;
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}
