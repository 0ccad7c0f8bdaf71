import { useCallback, useState } from 'react';
import { AppError } from '../shared/errors/app-error.js';

/** Formats an AppError for display: the table's message, then each detail as "where: what". */
export function describeError(error: unknown): string {
  if (!(error instanceof AppError)) return new AppError('INTERNAL').message;
  const details = error.details.map((detail) => (detail.path === '' ? detail.issue : `${detail.path}: ${detail.issue}`));
  return [error.message, ...details].join(' — ');
}

export function useErrorMessage(): [string | null, (error: unknown) => void, () => void] {
  const [message, setMessage] = useState<string | null>(null);
  const report = useCallback((error: unknown) => setMessage(describeError(error)), []);
  const clear = useCallback(() => setMessage(null), []);
  return [message, report, clear];
}
