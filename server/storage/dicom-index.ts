/**
 * The DICOM index: which instances exist, where their bytes are, and what QIDO and WADO metadata answer with.
 * Implemented by SQLite (embedded default) and PostgreSQL (several replicas). All state lives in the database:
 * nothing in process memory is needed for correctness, so replicas can share one index.
 */

/** Where one instance's frames are in its blob. */
export interface PixelInfo {
  /** Stored transfer syntax of the pixel data. */
  encapsulated: boolean;
  /** Per frame, the byte ranges [offset, length] that make it up (fragments when encapsulated). */
  frames: [number, number][][];
  /** The pixel data is in a deflated dataset: offsets refer to the inflated bytes. */
  deflated: boolean;
  bigEndian: boolean;
  bitsAllocated: number;
}

export interface InstanceRecord {
  studyUID: string;
  seriesUID: string;
  sopInstanceUID: string;
  sopClassUID: string;
  transferSyntaxUID: string;
  blobKey: string;
  size: number;
  instanceNumber: number | null;
  study: StudyColumns;
  series: SeriesColumns;
  /** DICOM JSON of the study / series / default instance attributes (one object, as text). */
  studyAttrs: string;
  seriesAttrs: string;
  instanceAttrs: string;
  /** The full WADO-RS metadata (DICOM JSON object as text) with bulk-data URIs relative to the DICOMweb root. */
  metadata: string;
  pixel: PixelInfo | null;
}

export interface StudyColumns {
  patientID: string | null;
  patientName: string | null;
  studyDate: string | null;
  studyTime: string | null;
  accessionNumber: string | null;
  studyID: string | null;
  referringPhysicianName: string | null;
  studyDescription: string | null;
}

export interface SeriesColumns {
  modality: string | null;
  seriesNumber: number | null;
  seriesDescription: string | null;
  seriesDate: string | null;
}

/** `stored`: new; `exists`: the same instance was already stored (idempotent); `conflict`: its UID is taken by another study or series. */
export type StoreOutcome = 'stored' | 'exists' | 'conflict';

export interface Scope {
  study: string;
  series?: string | undefined;
  instance?: string | undefined;
}

export interface InstanceRow {
  studyUID: string;
  seriesUID: string;
  sopInstanceUID: string;
  sopClassUID: string;
  transferSyntaxUID: string;
  blobKey: string;
  size: number;
  pixel: PixelInfo | null;
}

export type QidoLevel = 'study' | 'series' | 'instance';

export type QidoFilter =
  | { tag: string; kind: 'single'; value: string }
  | { tag: string; kind: 'wildcard'; value: string }
  | { tag: string; kind: 'list'; values: string[] }
  | { tag: string; kind: 'range'; from: string | null; to: string | null };

export interface QidoQuery {
  level: QidoLevel;
  /** Constraints from the path (`/studies/{study}/series`...). */
  study?: string | undefined;
  series?: string | undefined;
  filters: QidoFilter[];
  /** Case-insensitive person-name matching. */
  fuzzy: boolean;
  /** Any attribute beyond the defaults is asked for (includefield): instance rows then carry their full metadata. */
  wantMetadata: boolean;
  limit: number;
  offset: number;
  /**
   * Only these series are visible (an album's content): rows, matching and the computed attributes (counts,
   * ModalitiesInStudy, SOPClassesInStudy) all see the scope only. Absent: the whole server.
   */
  seriesScope?: readonly string[] | undefined;
}

export interface QidoRow {
  studyUID: string;
  seriesUID?: string;
  sopInstanceUID?: string;
  studyAttrs: string;
  seriesAttrs?: string;
  instanceAttrs?: string;
  metadata?: string;
  numberOfStudyRelatedSeries?: number;
  numberOfStudyRelatedInstances?: number;
  numberOfSeriesRelatedInstances?: number;
  modalitiesInStudy?: string[];
  sopClassesInStudy?: string[];
}

export interface DicomIndex {
  readonly kind: 'sqlite' | 'postgres';
  init(): Promise<void>;
  /** Indexes a batch in one transaction: all or nothing. Returns one outcome per record, in order. */
  store(records: readonly InstanceRecord[]): Promise<StoreOutcome[]>;
  /** The instances of a study, series or single instance, in series then instance order. */
  instances(scope: Scope): Promise<InstanceRow[]>;
  /** The stored WADO-RS metadata (text of a DICOM JSON object) of each instance in scope, with its blob key. */
  metadata(scope: Scope): Promise<{ blobKey: string; json: string }[]>;
  query(query: QidoQuery): Promise<{ rows: QidoRow[]; more: boolean }>;
  /** Removes a study, series or instance from the index in one transaction; returns the blob keys no longer referenced. */
  delete(scope: Scope): Promise<string[]>;
  /** Of these blob keys, the ones no index row refers to. */
  unreferenced(keys: readonly string[]): Promise<string[]>;
  ready(): Promise<boolean>;
  close(): Promise<void>;
}
