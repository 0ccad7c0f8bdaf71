import type { DicomIndex } from '../storage/dicom-index.js';

/** The modalities of stored series, read from the index's series attributes (0008,0060). */
export function seriesModalities(index: DicomIndex): (series: ReadonlyArray<{ studyInstanceUID: string; seriesInstanceUID: string }>) => Promise<string[]> {
  return async (series) => {
    const found = new Set<string>();
    for (const { studyInstanceUID, seriesInstanceUID } of series) {
      const { rows } = await index.query({
        level: 'series',
        study: studyInstanceUID,
        filters: [{ tag: '0020000E', kind: 'single', value: seriesInstanceUID }],
        fuzzy: false,
        wantMetadata: false,
        limit: 1,
        offset: 0,
      });
      for (const row of rows) {
        const attrs = JSON.parse(row.seriesAttrs ?? '{}') as Record<string, { Value?: unknown[] }>;
        for (const value of attrs['00080060']?.Value ?? []) if (typeof value === 'string') found.add(value);
      }
    }
    return [...found].sort();
  };
}
