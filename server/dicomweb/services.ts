import type { BlobStore } from '../storage/blob-store.js';
import type { DicomIndex } from '../storage/dicom-index.js';

/** What the DICOMweb routes need; one set serves every mount (`/dicomweb`, `/albums/{id}/dicomweb`). */
export interface DicomwebServices {
  readonly index: DicomIndex;
  readonly blobs: BlobStore;
  readonly options: DicomwebOptions;
}

export interface DicomwebOptions {
  /** Binary values longer than this are given as BulkDataURI in metadata. */
  readonly bulkThreshold: number;
  /** Largest DICOM header (everything before the pixel data) accepted by STOW-RS. */
  readonly maxHeaderBytes: number;
  /** QIDO-RS answers at most this many results per request (Warning 299 when more exist). */
  readonly maxResults: number;
  /** Origins allowed by CORS; `*` allows any. Empty: no CORS headers. */
  readonly corsOrigins: readonly string[];
}

export const defaultDicomwebOptions: DicomwebOptions = {
  bulkThreshold: 1024,
  maxHeaderBytes: 64 * 1024 * 1024,
  maxResults: 1000,
  corsOrigins: [],
};
