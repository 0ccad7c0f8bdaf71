import { vrOfTag } from '../dicom/dictionary.js';
import type { InstanceRecord, InstanceRow, PixelInfo, QidoFilter, QidoQuery, QidoRow, Scope } from './dicom-index.js';

/** The SQL shared by the SQLite and PostgreSQL indexes. Placeholders are `?` (PostgreSQL's driver renumbers them). */

export const schemaStatements = [
  `CREATE TABLE IF NOT EXISTS studies (
    study_uid TEXT PRIMARY KEY,
    patient_id TEXT, patient_name TEXT, study_date TEXT, study_time TEXT, accession_number TEXT, study_id TEXT,
    referring_physician_name TEXT, study_description TEXT,
    attrs TEXT NOT NULL,
    created_at BIGINT NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS studies_patient_id ON studies (patient_id)`,
  `CREATE INDEX IF NOT EXISTS studies_study_date ON studies (study_date)`,
  `CREATE INDEX IF NOT EXISTS studies_accession ON studies (accession_number)`,
  `CREATE TABLE IF NOT EXISTS series (
    series_uid TEXT PRIMARY KEY,
    study_uid TEXT NOT NULL,
    modality TEXT, series_number BIGINT, series_description TEXT, series_date TEXT,
    attrs TEXT NOT NULL,
    created_at BIGINT NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS series_study ON series (study_uid, modality)`,
  `CREATE INDEX IF NOT EXISTS series_modality ON series (modality)`,
  `CREATE TABLE IF NOT EXISTS instances (
    sop_uid TEXT PRIMARY KEY,
    series_uid TEXT NOT NULL,
    study_uid TEXT NOT NULL,
    sop_class_uid TEXT NOT NULL,
    instance_number BIGINT,
    transfer_syntax TEXT NOT NULL,
    blob_key TEXT NOT NULL,
    size BIGINT NOT NULL,
    pixel TEXT,
    attrs TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at BIGINT NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS instances_series ON instances (series_uid, instance_number)`,
  `CREATE INDEX IF NOT EXISTS instances_study ON instances (study_uid)`,
  `CREATE UNIQUE INDEX IF NOT EXISTS instances_blob ON instances (blob_key)`,
];

export const sql = {
  instanceByUid: 'SELECT study_uid, series_uid FROM instances WHERE sop_uid = ?',
  seriesStudy: 'SELECT study_uid FROM series WHERE series_uid = ?',
  insertStudy: `INSERT INTO studies (study_uid, patient_id, patient_name, study_date, study_time, accession_number, study_id,
    referring_physician_name, study_description, attrs, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (study_uid) DO NOTHING`,
  insertSeries: `INSERT INTO series (series_uid, study_uid, modality, series_number, series_description, series_date, attrs, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (series_uid) DO NOTHING`,
  insertInstance: `INSERT INTO instances (sop_uid, series_uid, study_uid, sop_class_uid, instance_number, transfer_syntax, blob_key, size,
    pixel, attrs, metadata, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sop_uid) DO NOTHING`,
  deleteEmptySeries: 'DELETE FROM series WHERE series_uid = ? AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.series_uid = series.series_uid)',
  deleteEmptyStudy: 'DELETE FROM studies WHERE study_uid = ? AND NOT EXISTS (SELECT 1 FROM series x WHERE x.study_uid = studies.study_uid)',
};

export function studyParams(record: InstanceRecord, now: number): unknown[] {
  const s = record.study;
  return [
    record.studyUID,
    s.patientID,
    s.patientName,
    s.studyDate,
    s.studyTime,
    s.accessionNumber,
    s.studyID,
    s.referringPhysicianName,
    s.studyDescription,
    record.studyAttrs,
    now,
  ];
}

export function seriesParams(record: InstanceRecord, now: number): unknown[] {
  const s = record.series;
  return [record.seriesUID, record.studyUID, s.modality, s.seriesNumber, s.seriesDescription, s.seriesDate, record.seriesAttrs, now];
}

export function instanceParams(record: InstanceRecord, now: number): unknown[] {
  return [
    record.sopInstanceUID,
    record.seriesUID,
    record.studyUID,
    record.sopClassUID,
    record.instanceNumber,
    record.transferSyntaxUID,
    record.blobKey,
    record.size,
    record.pixel === null ? null : JSON.stringify(record.pixel),
    record.instanceAttrs,
    record.metadata,
    now,
  ];
}

function scopeWhere(scope: Scope, alias: string): { where: string; params: unknown[] } {
  const clauses = [`${alias}.study_uid = ?`];
  const params: unknown[] = [scope.study];
  if (scope.series !== undefined) {
    clauses.push(`${alias}.series_uid = ?`);
    params.push(scope.series);
  }
  if (scope.instance !== undefined) {
    clauses.push(`${alias}.sop_uid = ?`);
    params.push(scope.instance);
  }
  return { where: clauses.join(' AND '), params };
}

const instanceOrder = 'ORDER BY x.series_number, i.series_uid, i.instance_number, i.sop_uid';

export function instancesSql(scope: Scope): { sql: string; params: unknown[] } {
  const { where, params } = scopeWhere(scope, 'i');
  return {
    sql: `SELECT i.study_uid, i.series_uid, i.sop_uid, i.sop_class_uid, i.transfer_syntax, i.blob_key, i.size, i.pixel
      FROM instances i JOIN series x ON x.series_uid = i.series_uid WHERE ${where} ${instanceOrder}`,
    params,
  };
}

export function metadataSql(scope: Scope): { sql: string; params: unknown[] } {
  const { where, params } = scopeWhere(scope, 'i');
  return { sql: `SELECT i.blob_key, i.metadata FROM instances i JOIN series x ON x.series_uid = i.series_uid WHERE ${where} ${instanceOrder}`, params };
}

export function deleteSelectSql(scope: Scope): { sql: string; params: unknown[] } {
  const { where, params } = scopeWhere(scope, 'i');
  return { sql: `SELECT i.sop_uid, i.series_uid, i.blob_key FROM instances i WHERE ${where}`, params };
}

export interface InstanceDbRow {
  study_uid: string;
  series_uid: string;
  sop_uid: string;
  sop_class_uid: string;
  transfer_syntax: string;
  blob_key: string;
  size: number | string;
  pixel: string | null;
}

export function toInstanceRow(row: InstanceDbRow): InstanceRow {
  return {
    studyUID: row.study_uid,
    seriesUID: row.series_uid,
    sopInstanceUID: row.sop_uid,
    sopClassUID: row.sop_class_uid,
    transferSyntaxUID: row.transfer_syntax,
    blobKey: row.blob_key,
    size: Number(row.size),
    pixel: row.pixel === null ? null : (JSON.parse(row.pixel) as PixelInfo),
  };
}

export interface Dialect {
  readonly name: 'sqlite' | 'postgres';
  /** The text value at a DICOM JSON path of a TEXT column holding a DICOM JSON object. */
  jsonText(column: string, tag: string, personName: boolean): string;
  /** Case-sensitive wildcard match (`*`, `?` already translated by `pattern`). */
  wildcard(expression: string, dicomPattern: string): { sql: string; param: string };
  distinctList(expression: string): string;
}

export const sqliteDialect: Dialect = {
  name: 'sqlite',
  jsonText: (column, tag, personName) => `json_extract(${column}, '$."${tag}".Value[0]${personName ? '.Alphabetic' : ''}')`,
  wildcard: (expression, pattern) => ({
    sql: `${expression} GLOB ?`,
    param: pattern.replace(/[[\]]/g, (c) => (c === '[' ? '[[]' : '[]]')),
  }),
  distinctList: (expression) => `group_concat(DISTINCT ${expression})`,
};

export const postgresDialect: Dialect = {
  name: 'postgres',
  jsonText: (column, tag, personName) => `((${column})::jsonb #>> '{${tag},Value,0${personName ? ',Alphabetic' : ''}}')`,
  wildcard: (expression, pattern) => ({
    sql: `${expression} LIKE ? ESCAPE '\\'`,
    param: pattern.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%').replace(/\?/g, '_'),
  }),
  distinctList: (expression) => `string_agg(DISTINCT ${expression}, ',')`,
};

interface Column {
  expr: string;
  kind: 'text' | 'pn' | 'number';
}

const studyColumns: Record<string, Column> = {
  '0020000D': { expr: 's.study_uid', kind: 'text' },
  '00100020': { expr: 's.patient_id', kind: 'text' },
  '00100010': { expr: 's.patient_name', kind: 'pn' },
  '00080020': { expr: 's.study_date', kind: 'text' },
  '00080030': { expr: 's.study_time', kind: 'text' },
  '00080050': { expr: 's.accession_number', kind: 'text' },
  '00200010': { expr: 's.study_id', kind: 'text' },
  '00080090': { expr: 's.referring_physician_name', kind: 'pn' },
  '00081030': { expr: 's.study_description', kind: 'text' },
};
const seriesColumns: Record<string, Column> = {
  '0020000E': { expr: 'x.series_uid', kind: 'text' },
  '00080060': { expr: 'x.modality', kind: 'text' },
  '00200011': { expr: 'x.series_number', kind: 'number' },
  '0008103E': { expr: 'x.series_description', kind: 'text' },
  '00080021': { expr: 'x.series_date', kind: 'text' },
};
const instanceColumns: Record<string, Column> = {
  '00080018': { expr: 'i.sop_uid', kind: 'text' },
  '00080016': { expr: 'i.sop_class_uid', kind: 'text' },
  '00200013': { expr: 'i.instance_number', kind: 'number' },
};

/** Attributes kept at study level (and so matched against the study row at every level). */
export const studyLevelTags = new Set([
  '00080005', '00080020', '00080030', '00080050', '00080051', '00080090', '00080201', '00081030', '00081032', '00081060',
  '00100010', '00100020', '00100021', '00100024', '00100030', '00100032', '00100040', '00101000', '00101001', '00101010',
  '00101020', '00101030', '00102160', '00104000', '00120062', '00120063', '00120064', '0020000D', '00200010', '00321032',
  '00321060', '00080061', '00080062', '00201206', '00201208',
]);
/** Attributes kept at series level. */
export const seriesLevelTags = new Set([
  '00080021', '00080031', '00080060', '00080070', '0008103E', '00081050', '00081090', '00180015', '0020000E', '00200011',
  '00200060', '00400244', '00400245', '00400275', '00201209', '00080064',
]);

/** Builds the SQL of a QIDO-RS query. Path constraints and filters become WHERE clauses; aggregates are computed per row. */
export function qidoSql(query: QidoQuery, dialect: Dialect): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const where: string[] = [];
  const level = query.level;
  // An album's view: the visible series are a CTE, so every clause below can refer to them once.
  const scoped = query.seriesScope !== undefined;
  const inScope = (column: string): string => (scoped ? ` AND ${column} IN (SELECT series_uid FROM scope)` : '');
  const scopeCte = scoped ? `WITH scope(series_uid) AS (VALUES ${(query.seriesScope ?? []).map(() => '(CAST(? AS TEXT))').join(', ')}) ` : '';
  const scopeParams = scoped ? [...(query.seriesScope ?? [])] : [];
  if (scoped) {
    where.push(
      level === 'study'
        ? 'EXISTS (SELECT 1 FROM series z WHERE z.study_uid = s.study_uid AND z.series_uid IN (SELECT series_uid FROM scope))'
        : `${level === 'series' ? 'x' : 'i'}.series_uid IN (SELECT series_uid FROM scope)`,
    );
  }
  if (query.study !== undefined) {
    where.push(`${level === 'study' ? 's' : level === 'series' ? 'x' : 'i'}.study_uid = ?`);
    params.push(query.study);
  }
  if (query.series !== undefined) {
    where.push(`${level === 'series' ? 'x' : 'i'}.series_uid = ?`);
    params.push(query.series);
  }
  for (const filter of query.filters) {
    const column = resolveColumn(filter.tag, level, dialect);
    if (column === undefined) continue;
    if (filter.tag === '00080061') {
      const values = filter.kind === 'list' ? filter.values : filter.kind === 'single' || filter.kind === 'wildcard' ? [filter.value] : [];
      if (values.length === 0) continue;
      if (filter.kind === 'wildcard') {
        const w = dialect.wildcard('m.modality', filter.value);
        where.push(`EXISTS (SELECT 1 FROM series m WHERE m.study_uid = s.study_uid AND ${w.sql}${inScope('m.series_uid')})`);
        params.push(w.param);
      } else {
        where.push(`EXISTS (SELECT 1 FROM series m WHERE m.study_uid = s.study_uid AND m.modality IN (${values.map(() => '?').join(', ')})${inScope('m.series_uid')})`);
        params.push(...values);
      }
      continue;
    }
    const clause = filterClause(filter, column, dialect, query.fuzzy);
    if (clause === undefined) continue;
    where.push(clause.sql);
    params.push(...clause.params);
  }

  let select: string;
  let from: string;
  let order: string;
  const instCount = (col: string, alias: string): string => `(SELECT count(*) FROM instances c WHERE c.${col} = ${alias}.${col}${inScope('c.series_uid')})`;
  if (level === 'study') {
    select = `s.study_uid, s.attrs AS study_attrs,
      (SELECT count(*) FROM series c WHERE c.study_uid = s.study_uid${inScope('c.series_uid')}) AS n_series,
      ${instCount('study_uid', 's')} AS n_instances,
      (SELECT ${dialect.distinctList('c.modality')} FROM series c WHERE c.study_uid = s.study_uid${inScope('c.series_uid')}) AS modalities,
      (SELECT ${dialect.distinctList('c.sop_class_uid')} FROM instances c WHERE c.study_uid = s.study_uid${inScope('c.series_uid')}) AS sop_classes`;
    from = 'studies s';
    order = 'ORDER BY s.study_date, s.study_time, s.study_uid';
  } else if (level === 'series') {
    select = `x.study_uid, x.series_uid, s.attrs AS study_attrs, x.attrs AS series_attrs, ${instCount('series_uid', 'x')} AS n_series_instances`;
    from = 'series x JOIN studies s ON s.study_uid = x.study_uid';
    order = 'ORDER BY x.study_uid, x.series_number, x.series_uid';
  } else {
    select = `i.study_uid, i.series_uid, i.sop_uid, s.attrs AS study_attrs, x.attrs AS series_attrs, i.attrs AS instance_attrs${query.wantMetadata ? ', i.metadata' : ''}`;
    from = 'instances i JOIN series x ON x.series_uid = i.series_uid JOIN studies s ON s.study_uid = i.study_uid';
    order = 'ORDER BY i.study_uid, x.series_number, i.series_uid, i.instance_number, i.sop_uid';
  }
  const whereSql = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
  params.push(query.limit + 1, query.offset);
  return { sql: `${scopeCte}SELECT ${select} FROM ${from} ${whereSql} ${order} LIMIT ? OFFSET ?`, params: [...scopeParams, ...params] };
}

function resolveColumn(tag: string, level: QidoQuery['level'], dialect: Dialect): Column | undefined {
  if (tag === '00080061') return level === 'study' ? { expr: 's.study_uid', kind: 'text' } : undefined;
  const known = studyColumns[tag] ?? (level !== 'study' ? seriesColumns[tag] : undefined) ?? (level === 'instance' ? instanceColumns[tag] : undefined);
  if (known !== undefined) return known;
  const pn = vrOfTag(Number.parseInt(tag, 16)) === 'PN';
  if (studyLevelTags.has(tag)) return { expr: dialect.jsonText('s.attrs', tag, pn), kind: pn ? 'pn' : 'text' };
  if (level === 'study') return undefined;
  if (seriesLevelTags.has(tag)) return { expr: dialect.jsonText('x.attrs', tag, pn), kind: pn ? 'pn' : 'text' };
  if (level === 'series') return undefined;
  return { expr: dialect.jsonText('i.metadata', tag, pn), kind: pn ? 'pn' : 'text' };
}

function filterClause(filter: QidoFilter, column: Column, dialect: Dialect, fuzzy: boolean): { sql: string; params: unknown[] } | undefined {
  const expr = column.kind === 'number' && dialect.name === 'postgres' ? `CAST(${column.expr} AS TEXT)` : column.expr;
  switch (filter.kind) {
    case 'single':
      if (column.kind === 'pn') return { sql: `upper(${expr}) = upper(?)`, params: [filter.value] };
      if (column.kind === 'number') return { sql: `${column.expr} = ?`, params: [Number(filter.value)] };
      return { sql: `${expr} = ?`, params: [filter.value] };
    case 'list':
      if (column.kind === 'number') return { sql: `${column.expr} IN (${filter.values.map(() => '?').join(', ')})`, params: filter.values.map(Number) };
      return { sql: `${expr} IN (${filter.values.map(() => '?').join(', ')})`, params: filter.values };
    case 'wildcard': {
      if (filter.value.replace(/\*/g, '') === '') return undefined;
      if (column.kind === 'pn' || fuzzy) {
        const w = dialect.wildcard(`upper(${expr})`, filter.value.toUpperCase());
        return { sql: w.sql, params: [w.param] };
      }
      const w = dialect.wildcard(expr, filter.value);
      return { sql: w.sql, params: [w.param] };
    }
    case 'range': {
      const clauses: string[] = [];
      const params: unknown[] = [];
      if (filter.from !== null) {
        clauses.push(`${expr} >= ?`);
        params.push(filter.from);
      }
      if (filter.to !== null) {
        clauses.push(`${expr} <= ?`);
        params.push(filter.to);
      }
      if (clauses.length === 0) return undefined;
      return { sql: `(${clauses.join(' AND ')})`, params };
    }
  }
}

export interface QidoDbRow {
  study_uid: string;
  series_uid?: string;
  sop_uid?: string;
  study_attrs: string;
  series_attrs?: string;
  instance_attrs?: string;
  metadata?: string;
  n_series?: number | string;
  n_instances?: number | string;
  n_series_instances?: number | string;
  modalities?: string | null;
  sop_classes?: string | null;
}

export function toQidoRow(row: QidoDbRow): QidoRow {
  const out: QidoRow = { studyUID: row.study_uid, studyAttrs: row.study_attrs };
  if (row.series_uid !== undefined) out.seriesUID = row.series_uid;
  if (row.sop_uid !== undefined) out.sopInstanceUID = row.sop_uid;
  if (row.series_attrs !== undefined) out.seriesAttrs = row.series_attrs;
  if (row.instance_attrs !== undefined) out.instanceAttrs = row.instance_attrs;
  if (row.metadata !== undefined) out.metadata = row.metadata;
  if (row.n_series !== undefined) out.numberOfStudyRelatedSeries = Number(row.n_series);
  if (row.n_instances !== undefined) out.numberOfStudyRelatedInstances = Number(row.n_instances);
  if (row.n_series_instances !== undefined) out.numberOfSeriesRelatedInstances = Number(row.n_series_instances);
  if (row.modalities !== undefined) out.modalitiesInStudy = splitList(row.modalities);
  if (row.sop_classes !== undefined) out.sopClassesInStudy = splitList(row.sop_classes);
  return out;
}

function splitList(value: string | null): string[] {
  return value === null || value === '' ? [] : [...new Set(value.split(','))].sort();
}
