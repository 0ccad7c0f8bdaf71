import { encapsulatedFrames, nativeFrames, type ReadAt } from '../dicom/frames.js';
import {
  DeflatedExplicitVRLittleEndian,
  DicomParseError,
  ExplicitVRBigEndian,
  ExplicitVRLittleEndian,
  ImplicitVRLittleEndian,
  numberValue,
  stringValue,
  type DicomJsonDataset,
  type ParsedPart10,
} from '../dicom/part10.js';
import type { InstanceRecord, PixelInfo } from '../storage/dicom-index.js';
import { seriesLevelTags, studyLevelTags } from '../storage/sql-index-common.js';

/** In stored metadata, bulk-data URIs start with this marker, replaced by the DICOMweb root of each request. */
export const bulkMarker = '"BulkDataURI":"@/';

export const uncompressedSyntaxes = new Set([ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian]);

const uidPattern = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;
/** A syntactically valid UID (also what keeps UIDs safe in URLs and keys). Leading zeros are tolerated. */
export function isUid(value: string | undefined): value is string {
  return value !== undefined && value.length > 0 && value.length <= 64 && (uidPattern.test(value) || /^[0-9]+(\.[0-9]+)*$/.test(value));
}

const instanceDefaultTags = [
  '00080016', '00080018', '00080008', '00080023', '00080033', '0020000D', '0020000E', '00200013', '00280008', '00280010',
  '00280011', '00280100', '00400512', '0040A073', '0040A491', '0040A493', '0040A730',
];

function pick(dataset: DicomJsonDataset, tags: Iterable<string>): DicomJsonDataset {
  const out: DicomJsonDataset = {};
  for (const tag of tags) {
    const element = dataset[tag];
    if (element !== undefined) out[tag] = element;
  }
  return out;
}

export class InstanceRejected extends Error {
  constructor(
    readonly failureReason: number,
    readonly reason: string,
    readonly sopClassUID?: string,
    readonly sopInstanceUID?: string,
  ) {
    super(reason);
    this.name = 'InstanceRejected';
  }
}

/** From a parsed instance and its blob: the index record, with precomputed QIDO attributes and WADO metadata. */
export async function buildInstanceRecord(
  parsed: ParsedPart10,
  blob: { key: string; size: number },
  read: ReadAt,
  options: { expectedStudy?: string | undefined },
): Promise<InstanceRecord> {
  const ds = parsed.dataset;
  const sopClassUID = stringValue(ds, '00080016');
  const sopInstanceUID = stringValue(ds, '00080018');
  const studyUID = stringValue(ds, '0020000D');
  const seriesUID = stringValue(ds, '0020000E');
  if (!isUid(sopClassUID) || !isUid(sopInstanceUID)) throw new InstanceRejected(0xc000, 'the SOP Class or SOP Instance UID is missing or invalid');
  if (!isUid(studyUID) || !isUid(seriesUID)) {
    throw new InstanceRejected(0xc000, 'the Study or Series Instance UID is missing or invalid', sopClassUID, sopInstanceUID);
  }
  if (options.expectedStudy !== undefined && options.expectedStudy !== studyUID) {
    throw new InstanceRejected(0xa900, 'the instance belongs to another study than the one in the request URL', sopClassUID, sopInstanceUID);
  }

  let pixel: PixelInfo | null = null;
  if (parsed.pixelData !== undefined) {
    const numberOfFrames = numberValue(ds, '00280008') ?? 1;
    const bitsAllocated = numberValue(ds, '00280100') ?? 0;
    const located = parsed.pixelData;
    let frames: [number, number][][];
    if (located.length === undefined) {
      if (parsed.deflated) frames = [];
      else {
        try {
          frames = await encapsulatedFrames(read, located.offset, blob.size, numberOfFrames);
        } catch (error) {
          if (error instanceof DicomParseError) throw new InstanceRejected(0xc000, error.reason, sopClassUID, sopInstanceUID);
          throw error;
        }
      }
    } else {
      frames = nativeFrames(located.offset, located.length, {
        rows: numberValue(ds, '00280010') ?? 0,
        columns: numberValue(ds, '00280011') ?? 0,
        samplesPerPixel: numberValue(ds, '00280002') ?? 1,
        bitsAllocated,
        numberOfFrames,
      });
    }
    pixel = {
      encapsulated: located.length === undefined,
      frames,
      deflated: parsed.deflated,
      bigEndian: parsed.transferSyntaxUID === ExplicitVRBigEndian,
      bitsAllocated,
    };
  }

  const instancePath = `studies/${studyUID}/series/${seriesUID}/instances/${sopInstanceUID}`;
  for (const reference of parsed.bulk) {
    reference.element.BulkDataURI =
      reference.element === ds['7FE00010'] ? `@/${instancePath}/bulkdata/7fe00010` : `@/${instancePath}/bulkdata/${reference.offset}-${reference.length}`;
  }
  const metadata: DicomJsonDataset = { ...ds, '00083002': { vr: 'UI', Value: [parsed.transferSyntaxUID] } };
  const text = (key: string): string | null => stringValue(ds, key) ?? null;
  const personName = (key: string): string | null => {
    const value = ds[key]?.Value?.[0];
    return typeof value === 'object' && value !== null && 'Alphabetic' in value && typeof value.Alphabetic === 'string' ? value.Alphabetic : null;
  };
  const seriesNumber = numberValue(ds, '00200011');
  const instanceNumber = numberValue(ds, '00200013');
  return {
    studyUID,
    seriesUID,
    sopInstanceUID,
    sopClassUID,
    transferSyntaxUID: parsed.transferSyntaxUID,
    blobKey: blob.key,
    size: blob.size,
    instanceNumber: instanceNumber === undefined || !Number.isSafeInteger(instanceNumber) ? null : instanceNumber,
    study: {
      patientID: text('00100020'),
      patientName: personName('00100010'),
      studyDate: text('00080020'),
      studyTime: text('00080030'),
      accessionNumber: text('00080050'),
      studyID: text('00200010'),
      referringPhysicianName: personName('00080090'),
      studyDescription: text('00081030'),
    },
    series: {
      modality: text('00080060'),
      seriesNumber: seriesNumber === undefined || !Number.isSafeInteger(seriesNumber) ? null : seriesNumber,
      seriesDescription: text('0008103E'),
      seriesDate: text('00080021'),
    },
    studyAttrs: JSON.stringify(pick(ds, studyLevelTags)),
    seriesAttrs: JSON.stringify(pick(ds, seriesLevelTags)),
    instanceAttrs: JSON.stringify(pick(ds, instanceDefaultTags)),
    metadata: JSON.stringify(metadata),
    pixel,
  };
}
