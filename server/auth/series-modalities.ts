import type { DicomIndex } from '../storage/dicom-index.js';

/** The modalities of stored series (one series-level query scoped to them), read from 0008,0060. */
export function seriesModalities(index: DicomIndex): (series: ReadonlyArray<{ studyInstanceUID: string; seriesInstanceUID: string }>) => Promise<string[]> {
  return async (series) => {
    if (series.length === 0) return [];
    const { rows } = await index.query({
      level: 'series',
      filters: [],
      fuzzy: false,
      wantMetadata: false,
      limit: series.length,
      offset: 0,
      seriesScope: series.map((s) => s.seriesInstanceUID),
    });
    const found = new Set<string>();
    for (const row of rows) {
      const attrs = JSON.parse(row.seriesAttrs ?? '{}') as Record<string, { Value?: unknown[] }>;
      for (const value of attrs['00080060']?.Value ?? []) if (typeof value === 'string') found.add(value);
    }
    return [...found].sort();
  };
}
