import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../shared/errors/app-error.js';
import { tagOfKeyword, vrOfTag } from '../dicom/dictionary.js';
import type { DicomJsonDataset } from '../dicom/part10.js';
import type { QidoFilter, QidoLevel, QidoQuery, QidoRow } from '../storage/dicom-index.js';
import { acceptsDicomJson, notAcceptable } from './accept.js';
import type { DicomwebServices } from './services.js';
import { dicomwebBase } from './urls.js';

const reserved = new Set(['includefield', 'limit', 'offset', 'fuzzymatching']);
const rangeVRs = new Set(['DA', 'TM', 'DT']);
const listVRs = new Set(['UI']);

/** Reads the QIDO-RS query string (PS3.18 8.3.4) into a query; unknown keywords are a 400 naming the key. */
export function parseQidoQuery(
  level: QidoLevel,
  query: Record<string, string | string[] | undefined>,
  path: { study?: string | undefined; series?: string | undefined },
  maxResults: number,
): { query: QidoQuery; includeAll: boolean; includeTags: Set<string>; limited: boolean } {
  const filters: QidoFilter[] = [];
  const includeTags = new Set<string>();
  let includeAll = false;
  let limit = maxResults;
  let offset = 0;
  let fuzzy = false;
  let limited = false;
  const values = (raw: string | string[] | undefined): string[] => (raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]);
  for (const [key, raw] of Object.entries(query)) {
    const all = values(raw);
    if (key === 'includefield') {
      for (const field of all.flatMap((value) => value.split(','))) {
        const name = field.trim();
        if (name === '') continue;
        if (name === 'all') includeAll = true;
        else {
          const tag = tagOfKeyword(name);
          if (tag === undefined) throw new AppError('INVALID_INPUT', [{ path: 'includefield', issue: `"${name.slice(0, 64)}" is not a DICOM keyword or tag` }]);
          includeTags.add(tag);
        }
      }
      continue;
    }
    if (key === 'limit' || key === 'offset') {
      const value = Number(all[all.length - 1]);
      if (!Number.isSafeInteger(value) || value < 0) throw new AppError('INVALID_INPUT', [{ path: key, issue: 'must be a non-negative integer' }]);
      if (key === 'limit') {
        limited = true;
        limit = Math.min(value, maxResults);
      } else offset = value;
      continue;
    }
    if (key === 'fuzzymatching') {
      fuzzy = all[all.length - 1] === 'true';
      continue;
    }
    if (reserved.has(key)) continue;
    const tag = tagOfKeyword(key);
    if (tag === undefined) throw new AppError('INVALID_INPUT', [{ path: key.slice(0, 64), issue: 'is not a DICOM keyword or tag this server can match' }]);
    const value = all[all.length - 1] ?? '';
    includeTags.add(tag);
    if (value === '' || value === '*') continue; // Universal matching: return the attribute only.
    filters.push(filterFor(tag, value));
  }
  return {
    query: { level, study: path.study, series: path.series, filters, fuzzy, wantMetadata: false, limit, offset },
    includeAll,
    includeTags,
    limited,
  };
}

function filterFor(tag: string, value: string): QidoFilter {
  const vr = vrOfTag(Number.parseInt(tag, 16));
  if (tag === '00080061' || listVRs.has(vr)) {
    const list = value.split(/[\\,]/).map((item) => item.trim()).filter((item) => item !== '');
    if (list.length > 1 || tag === '00080061') {
      if (list.some((item) => item.includes('*') || item.includes('?'))) return { tag, kind: 'wildcard', value };
      return { tag, kind: 'list', values: list };
    }
  }
  if (rangeVRs.has(vr) && value.includes('-')) {
    const [from = '', to = ''] = value.split('-', 2);
    const pad = vr === 'DA' ? '' : '9'.repeat(13);
    return { tag, kind: 'range', from: from === '' ? null : from, to: to === '' ? null : `${to}${pad.slice(0, Math.max(0, 13 - to.length))}` };
  }
  if (value.includes('*') || value.includes('?')) return { tag, kind: 'wildcard', value };
  if (value.includes('\\') && vr !== 'PN') return { tag, kind: 'list', values: value.split('\\') };
  return { tag, kind: 'single', value };
}

const instanceDefaults = new Set(['00080016', '00080018', '00080008', '00080023', '00080033', '00200013', '00280008', '00280010', '00280011', '00280100']);

/** The JSON of one result: stored attributes, computed ones, RetrieveURL; plus includefield attributes from metadata. */
function resultJson(level: QidoLevel, row: QidoRow, base: string, top: boolean, includeAll: boolean, includeTags: Set<string>): DicomJsonDataset {
  const out: DicomJsonDataset = {};
  if (level === 'study' || top) Object.assign(out, JSON.parse(row.studyAttrs) as DicomJsonDataset);
  else out['0020000D'] = { vr: 'UI', Value: [row.studyUID] };
  if (row.seriesAttrs !== undefined) Object.assign(out, JSON.parse(row.seriesAttrs) as DicomJsonDataset);
  if (row.instanceAttrs !== undefined) Object.assign(out, JSON.parse(row.instanceAttrs) as DicomJsonDataset);
  if (row.metadata !== undefined) {
    const metadata = JSON.parse(row.metadata) as DicomJsonDataset;
    for (const [tag, element] of Object.entries(metadata)) {
      if (tag === '7FE00010' || element.BulkDataURI !== undefined) continue;
      if (includeAll || includeTags.has(tag)) out[tag] = element;
    }
  }
  out['00080056'] = { vr: 'CS', Value: ['ONLINE'] };
  if (level === 'study') {
    if (row.modalitiesInStudy !== undefined) out['00080061'] = row.modalitiesInStudy.length === 0 ? { vr: 'CS' } : { vr: 'CS', Value: row.modalitiesInStudy };
    if (row.sopClassesInStudy !== undefined) out['00080062'] = row.sopClassesInStudy.length === 0 ? { vr: 'UI' } : { vr: 'UI', Value: row.sopClassesInStudy };
    out['00201206'] = { vr: 'IS', Value: [row.numberOfStudyRelatedSeries ?? 0] };
    out['00201208'] = { vr: 'IS', Value: [row.numberOfStudyRelatedInstances ?? 0] };
    out['00081190'] = { vr: 'UR', Value: [`${base}/studies/${row.studyUID}`] };
  } else if (level === 'series') {
    out['00201209'] = { vr: 'IS', Value: [row.numberOfSeriesRelatedInstances ?? 0] };
    out['00081190'] = { vr: 'UR', Value: [`${base}/studies/${row.studyUID}/series/${row.seriesUID ?? ''}`] };
  } else {
    out['00081190'] = { vr: 'UR', Value: [`${base}/studies/${row.studyUID}/series/${row.seriesUID ?? ''}/instances/${row.sopInstanceUID ?? ''}`] };
  }
  return out;
}

/** QIDO-RS search (PS3.18 10.6) at one level, possibly nested under a study or series from the path. */
export async function search(
  services: DicomwebServices,
  request: FastifyRequest,
  reply: FastifyReply,
  level: QidoLevel,
  path: { study?: string | undefined; series?: string | undefined },
): Promise<void> {
  if (!acceptsDicomJson(request.headers.accept)) throw notAcceptable('QIDO-RS answers application/dicom+json');
  const parsed = parseQidoQuery(level, request.query as Record<string, string | string[] | undefined>, path, services.options.maxResults);
  const query = parsed.query;
  if (level === 'instance') {
    query.wantMetadata = parsed.includeAll || [...parsed.includeTags].some((tag) => !instanceDefaults.has(tag));
  }
  const { rows, more } = await services.index.query(query);
  const base = dicomwebBase(request);
  const top = level === 'series' ? path.study === undefined : level === 'instance' ? path.series === undefined : true;
  const body = rows.map((row) => resultJson(level, row, base, top, parsed.includeAll, parsed.includeTags));
  if (more && !parsed.limited) {
    void reply.header('warning', '299 paradim "The number of results exceeded the maximum supported by the server. Additional results can be requested."');
  }
  void reply.header('content-type', 'application/dicom+json').send(JSON.stringify(body));
}
