import { AppError } from '../../shared/errors/app-error.js';
import { parseMediaType, splitOutsideQuotes } from './multipart.js';

export interface MediaRange {
  type: string;
  params: Record<string, string>;
  q: number;
}

/** The media ranges of an Accept header, best first; an absent header accepts anything. */
export function parseAccept(header: string | string[] | undefined): MediaRange[] {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  if (text.trim() === '') return [{ type: '*/*', params: {}, q: 1 }];
  const ranges = splitOutsideQuotes(text, ',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const { type, params } = parseMediaType(part);
      const q = params.q === undefined ? 1 : Number(params.q);
      delete params.q;
      return { type, params, q: Number.isFinite(q) ? q : 0 };
    })
    .filter((range) => range.q > 0);
  return ranges.sort((a, b) => b.q - a.q);
}

export function notAcceptable(issue: string): AppError {
  return new AppError('NOT_ACCEPTABLE', [{ path: 'accept', issue }]);
}

/** For JSON answers (QIDO, metadata): application/dicom+json, application/json or a wildcard. */
export function acceptsDicomJson(header: string | string[] | undefined): boolean {
  return parseAccept(header).some((range) => ['application/dicom+json', 'application/json', '*/*', 'application/*'].includes(range.type));
}

/** The requested transfer syntax of a range: undefined when none named, `*` for any. */
export function transferSyntaxOf(range: MediaRange): string | undefined {
  return range.params['transfer-syntax'];
}
