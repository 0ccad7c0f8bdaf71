// Structural and consistency rules of the DICOM standard that a file can break while still being readable by the
// parser: Part 10 framing (PS3.10 7.1, PS3.5 10.1), SOP identity (PS3.3 C.12.1), UID syntax (PS3.5 9.1), the Image
// Pixel module (PS3.3 C.7.6.3), the length of native pixel data (PS3.5 8.1.1), sequences stored as UN (PS3.5 6.2.2)
// and the headers of compressed frames against the data set (PS3.5 8.2, Annex A.4 and G; ITU-T Tag.81, Tag.87;
// ISO/IEC 15444-1). Every rule is a rule of the standard, never a rule about a particular file; where real files
// commonly break a rule that does no harm to reading them (a missing preamble, padding after the pixel data, a JPEG
// scan header with spectral selection 0-0, pixel data left out of an image), that rule is not enforced.
//
// The parser stays a tolerant reader (it also reads legacy data sets without file meta, e.g. for import headers);
// whether a file is acceptable is decided here, after parsing. Offsets are positions in the data set's source (for a
// deflated file, in the inflated data set). Pure: no Node, no DOM.
import { AppError, type ErrorDetail } from '../errors/app-error.js';
import { lookupTag } from './dictionary.js';
import { UNDEFINED_LENGTH, type DicomElement, type DicomFile } from './model.js';
import { formatTag, Tag } from './tags.js';
import { decodeAscii } from './values.js';

/** One conformance problem, positioned like the parser's errors (offset in the data set's source, and the tag). */
export interface ConformanceIssue {
  readonly offset: number;
  readonly tag?: number;
  readonly issue: string;
}


const STORAGE_PREFIX = '1.2.840.10008.5.1.4.1.1.';

/**
 * Storage SOP Classes whose IOD has the Image Pixel module as Mandatory (PS3.3 Annex A; PS3.4 B.5), so an instance
 * carries pixel data. IODs where it is conditional (e.g. RT Dose) or absent (e.g. MR Spectroscopy) are not listed.
 */
const IMAGE_SOP_CLASSES = new Map<string, string>(
  (
    [
      ['1', 'Computed Radiography Image'],
      ['1.1', 'Digital X-Ray Image (For Presentation)'],
      ['1.1.1', 'Digital X-Ray Image (For Processing)'],
      ['1.2', 'Digital Mammography X-Ray Image (For Presentation)'],
      ['1.2.1', 'Digital Mammography X-Ray Image (For Processing)'],
      ['1.3', 'Digital Intra-Oral X-Ray Image (For Presentation)'],
      ['1.3.1', 'Digital Intra-Oral X-Ray Image (For Processing)'],
      ['2', 'CT Image'],
      ['2.1', 'Enhanced CT Image'],
      ['2.2', 'Legacy Converted Enhanced CT Image'],
      ['3.1', 'Ultrasound Multi-frame Image'],
      ['4', 'MR Image'],
      ['4.1', 'Enhanced MR Image'],
      ['4.3', 'Enhanced MR Color Image'],
      ['4.4', 'Legacy Converted Enhanced MR Image'],
      ['6.1', 'Ultrasound Image'],
      ['6.2', 'Enhanced US Volume'],
      ['7', 'Secondary Capture Image'],
      ['7.1', 'Multi-frame Single Bit Secondary Capture Image'],
      ['7.2', 'Multi-frame Grayscale Byte Secondary Capture Image'],
      ['7.3', 'Multi-frame Grayscale Word Secondary Capture Image'],
      ['7.4', 'Multi-frame True Color Secondary Capture Image'],
      ['12.1', 'X-Ray Angiographic Image'],
      ['12.1.1', 'Enhanced XA Image'],
      ['12.2', 'X-Ray Radiofluoroscopic Image'],
      ['12.2.1', 'Enhanced XRF Image'],
      ['13.1.1', 'X-Ray 3D Angiographic Image'],
      ['13.1.2', 'X-Ray 3D Craniofacial Image'],
      ['13.1.3', 'Breast Tomosynthesis Image'],
      ['13.1.4', 'Breast Projection X-Ray Image (For Presentation)'],
      ['13.1.5', 'Breast Projection X-Ray Image (For Processing)'],
      ['20', 'Nuclear Medicine Image'],
      ['30', 'Parametric Map'],
      ['66.4', 'Segmentation'],
      ['77.1.1', 'VL Endoscopic Image'],
      ['77.1.1.1', 'Video Endoscopic Image'],
      ['77.1.2', 'VL Microscopic Image'],
      ['77.1.2.1', 'Video Microscopic Image'],
      ['77.1.3', 'VL Slide-Coordinates Microscopic Image'],
      ['77.1.4', 'VL Photographic Image'],
      ['77.1.4.1', 'Video Photographic Image'],
      ['77.1.5.1', 'Ophthalmic Photography 8 Bit Image'],
      ['77.1.5.2', 'Ophthalmic Photography 16 Bit Image'],
      ['77.1.5.4', 'Ophthalmic Tomography Image'],
      ['77.1.6', 'VL Whole Slide Microscopy Image'],
      ['128', 'Positron Emission Tomography Image'],
      ['128.1', 'Legacy Converted Enhanced PET Image'],
      ['130', 'Enhanced PET Image'],
      ['481.1', 'RT Image'],
    ] as const
  ).map(([suffix, name]) => [STORAGE_PREFIX + suffix, name]),
);

/** Encapsulated Document IODs (PS3.3 A.45): PDF, CDA, STL, OBJ, MTL. */
const ENCAPSULATED_DOCUMENT_PREFIX = '1.2.840.10008.5.1.4.1.1.104.';

/** Transfer syntaxes whose pixel data is native (not encapsulated), PS3.5 Annex A.1-A.3, A.5. */
const NATIVE_TRANSFER_SYNTAXES = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.1.99', '1.2.840.10008.1.2.2']);

type Codec = 'jpeg' | 'jpeg-ls' | 'jpeg-2000' | 'rle';
interface CompressedSyntax {
  readonly codec: Codec;
  readonly name: string;
  /** JPEG: the SOF markers the process of this transfer syntax may use (PS3.5 A.4.1, Tag.81 Table B.1). */
  readonly sof?: readonly number[];
  /** JPEG lossless Selection Value 1 (PS3.5 A.4.1): the predictor must be 1. */
  readonly predictor1?: boolean;
}

const COMPRESSED_SYNTAXES = new Map<string, CompressedSyntax>([
  ['1.2.840.10008.1.2.4.50', { codec: 'jpeg', name: 'JPEG Baseline (Process 1)', sof: [0xc0] }],
  ['1.2.840.10008.1.2.4.51', { codec: 'jpeg', name: 'JPEG Extended (Process 2 & 4)', sof: [0xc0, 0xc1] }],
  ['1.2.840.10008.1.2.4.57', { codec: 'jpeg', name: 'JPEG Lossless (Process 14)', sof: [0xc3] }],
  ['1.2.840.10008.1.2.4.70', { codec: 'jpeg', name: 'JPEG Lossless (Process 14, Selection Value 1)', sof: [0xc3], predictor1: true }],
  ['1.2.840.10008.1.2.4.80', { codec: 'jpeg-ls', name: 'JPEG-LS Lossless' }],
  ['1.2.840.10008.1.2.4.81', { codec: 'jpeg-ls', name: 'JPEG-LS Near-Lossless' }],
  ['1.2.840.10008.1.2.4.90', { codec: 'jpeg-2000', name: 'JPEG 2000 (Lossless Only)' }],
  ['1.2.840.10008.1.2.4.91', { codec: 'jpeg-2000', name: 'JPEG 2000' }],
  ['1.2.840.10008.1.2.4.92', { codec: 'jpeg-2000', name: 'JPEG 2000 Part 2 Multi-component (Lossless Only)' }],
  ['1.2.840.10008.1.2.4.93', { codec: 'jpeg-2000', name: 'JPEG 2000 Part 2 Multi-component' }],
  ['1.2.840.10008.1.2.4.201', { codec: 'jpeg-2000', name: 'High-Throughput JPEG 2000 (Lossless Only)' }],
  ['1.2.840.10008.1.2.4.202', { codec: 'jpeg-2000', name: 'High-Throughput JPEG 2000 with RPCL Options (Lossless Only)' }],
  ['1.2.840.10008.1.2.4.203', { codec: 'jpeg-2000', name: 'High-Throughput JPEG 2000' }],
  ['1.2.840.10008.1.2.5', { codec: 'rle', name: 'RLE Lossless' }],
]);

/** How many bytes of a compressed frame are read to find its header (markers before the first scan). */
const HEADER_WINDOW = 256 * 1024;

class Collector {
  readonly issues: ConformanceIssue[] = [];
  add(offset: number, tag: number | undefined, issue: string): void {
    this.issues.push(tag === undefined ? { offset, issue } : { offset, tag, issue });
  }
}

function find(elements: readonly DicomElement[], tag: number): DicomElement | undefined {
  return elements.find((element) => element.tag === tag);
}

/** A string value without padding (trailing spaces and NULs; leading spaces too, which are not significant). */
function text(element: DicomElement | undefined): string | undefined {
  if (element?.value === undefined) return undefined;
  return decodeAscii(element.value).replace(/[\0 ]+$/, '').replace(/^ +/, '');
}

function uint16(element: DicomElement | undefined): number | undefined {
  const value = element?.value;
  if (element === undefined || value === undefined || value.length < 2) return undefined;
  const a = value[0] ?? 0;
  const b = value[1] ?? 0;
  return element.encoding.littleEndian ? a | (b << 8) : (a << 8) | b;
}

function be16(bytes: Uint8Array, at: number): number {
  return ((bytes[at] ?? 0) << 8) | (bytes[at + 1] ?? 0);
}

function be32(bytes: Uint8Array, at: number): number {
  return (((bytes[at] ?? 0) << 24) | ((bytes[at + 1] ?? 0) << 16) | ((bytes[at + 2] ?? 0) << 8) | (bytes[at + 3] ?? 0)) >>> 0;
}

function le32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] ?? 0) | ((bytes[at + 1] ?? 0) << 8) | ((bytes[at + 2] ?? 0) << 16) | ((bytes[at + 3] ?? 0) << 24)) >>> 0;
}

/** The problem with a UID value (PS3.5 9.1), or undefined when it is well formed. */
export function uidProblem(uid: string): string | undefined {
  if (uid.length === 0) return 'is empty';
  if (uid.length > 64) return `is ${uid.length} characters long (at most 64 are allowed)`;
  if (!/^[0-9.]+$/.test(uid)) return 'contains characters other than digits and periods';
  const components = uid.split('.');
  if (components.some((component) => component.length === 0)) return 'has an empty component (two periods in a row, or a period at an end)';
  // Components with a leading zero break PS3.5 9.1 too, but legacy archives are full of them and they do not hide
  // what the object is: they are not rejected (de-identification replaces the UIDs anyway).
  return undefined;
}

/**
 * Part 10 framing (PS3.10 7.1). A file with the "DICM" prefix declares itself a Part 10 file, so its file meta
 * information must start with its group length, which tells a reader where the data set begins. A data set without
 * file meta (legacy, or a network data set written to disk) declares no transfer syntax: the only one that may be
 * assumed is the DICOM default, Implicit VR Little Endian (PS3.5 10.1), so such a data set must be implicit VR.
 */
function checkPart10(file: DicomFile, out: Collector): void {
  if (file.meta.length === 0) {
    if (file.transferSyntax.explicitVr) {
      out.add(0, undefined, 'the file has no file meta information, so its transfer syntax is not declared, and it is not in the default Implicit VR Little Endian that a reader may assume (PS3.5 10.1, PS3.10 7.1): its encoding can only be guessed');
    }
    return;
  }
  const metaStart = file.meta[0]?.headerOffset ?? 0;
  if (file.hasPreamble && file.meta[0]?.tag !== Tag.FileMetaInformationGroupLength) {
    out.add(metaStart, Tag.FileMetaInformationGroupLength, 'the file meta information does not start with its group length (File Meta Information Group Length, Type 1, PS3.10 7.1), so where the data set starts is not declared');
  }
  const version = find(file.meta, Tag.FileMetaInformationVersion);
  const bytes = version?.value;
  if (version !== undefined && bytes !== undefined && bytes.length > 0 && (bytes.length !== 2 || ((bytes[1] ?? 0) & 1) === 0)) {
    out.add(version.headerOffset, Tag.FileMetaInformationVersion, 'the File Meta Information Version is not 00H 01H (version 1 of the file meta information, PS3.10 7.1)');
  }
  for (const [tag, name] of [
    [Tag.MediaStorageSOPClassUID, 'Media Storage SOP Class UID'],
    [Tag.MediaStorageSOPInstanceUID, 'Media Storage SOP Instance UID'],
  ] as const) {
    const element = find(file.meta, tag);
    const value = text(element);
    if (element === undefined || value === undefined || value === '') continue;
    const problem = uidProblem(value);
    if (problem !== undefined) out.add(element.headerOffset, tag, `the ${name} ${problem}, so it is not a valid UID (PS3.5 9.1)`);
  }
}

/** SOP Common (PS3.3 C.12.1), and its agreement with the Media Storage SOP Class UID of the file meta (PS3.10 7.1). */
function checkIdentity(file: DicomFile, out: Collector): string | undefined {
  const dataset = file.dataset;
  const start = file.datasetOffset;
  const mediaClass = text(find(file.meta, Tag.MediaStorageSOPClassUID));
  const sopClassElement = find(dataset, Tag.SOPClassUID);
  const sopInstanceElement = find(dataset, Tag.SOPInstanceUID);
  const sopClass = text(sopClassElement);
  const sopInstance = text(sopInstanceElement);
  // A SOP Instance UID makes the data set a SOP instance, and the SOP Common module then requires its SOP Class UID
  // (Type 1). A data set with neither (e.g. a data set fragment) is not a SOP instance and is not checked here.
  if (sopInstance !== undefined && sopInstance !== '' && (sopClass === undefined || sopClass === '')) {
    const declared = mediaClass !== undefined && mediaClass !== '' ? ` (the file meta says ${mediaClass})` : '';
    out.add(sopClassElement?.headerOffset ?? start, Tag.SOPClassUID, `the data set has a SOP Instance UID but no SOP Class UID${declared}, so what kind of object it is is not stated (SOP Common module, Type 1, PS3.3 C.12.1)`);
  }
  if (sopClass !== undefined && sopClass !== '' && mediaClass !== undefined && mediaClass !== '' && sopClass !== mediaClass) {
    out.add(sopClassElement?.headerOffset ?? start, Tag.SOPClassUID, `the SOP Class UID (${sopClass}) differs from the Media Storage SOP Class UID of the file meta (${mediaClass}); they must be equal (PS3.10 7.1)`);
  }
  for (const [element, name] of [
    [sopClassElement, 'SOP Class UID'],
    [sopInstanceElement, 'SOP Instance UID'],
    [find(dataset, Tag.StudyInstanceUID), 'Study Instance UID'],
    [find(dataset, Tag.SeriesInstanceUID), 'Series Instance UID'],
  ] as const) {
    const value = text(element);
    if (element === undefined || value === undefined || value === '') continue;
    const problem = uidProblem(value);
    if (problem !== undefined) out.add(element.headerOffset, element.tag, `the ${name} ${problem}, so it is not a valid UID (PS3.5 9.1)`);
  }
  return sopClass;
}

function checkEncapsulatedDocument(file: DicomFile, sopClass: string | undefined, out: Collector): void {
  if (sopClass?.startsWith(ENCAPSULATED_DOCUMENT_PREFIX) !== true) return;
  const document = find(file.dataset, Tag.EncapsulatedDocument);
  if (document === undefined || document.valueLength === 0) {
    out.add(document?.headerOffset ?? file.datasetOffset, Tag.EncapsulatedDocument, 'this is an encapsulated document object but the Encapsulated Document is missing or empty (Type 1, PS3.3 C.24.2)');
  }
  const mime = find(file.dataset, Tag.MIMETypeOfEncapsulatedDocument);
  if (mime === undefined || mime.length === 0) {
    out.add(mime?.headerOffset ?? file.datasetOffset, Tag.MIMETypeOfEncapsulatedDocument, 'this is an encapsulated document object but it does not say what type of document it holds (MIME Type of Encapsulated Document, Type 1, PS3.3 C.24.2)');
  }
}

/** A sequence stored as UN must be in implicit VR little endian (PS3.5 6.2.2); the parser keeps it as bytes otherwise. */
function checkUnSequences(elements: readonly DicomElement[], out: Collector): void {
  for (const element of elements) {
    if (
      element.vr === 'UN' &&
      element.items === undefined &&
      element.length !== UNDEFINED_LENGTH &&
      element.length > 0 &&
      (element.tag >>> 16) % 2 === 0 &&
      lookupTag(element.tag)?.vr === 'SQ'
    ) {
      out.add(element.headerOffset, element.tag, 'a sequence stored with VR UN is not a valid implicit VR little endian sequence, as PS3.5 6.2.2 requires, so its items cannot be read');
    }
    for (const item of element.items ?? []) checkUnSequences(item.elements, out);
  }
}

interface PixelModule {
  readonly rows: number;
  readonly columns: number;
  readonly samples: number;
  readonly bitsAllocated: number;
  readonly bitsStored: number | undefined;
  readonly photometric: string;
  readonly frames: number;
}

const PHOTOMETRIC_SAMPLES = new Map<string, number>([
  ['MONOCHROME1', 1],
  ['MONOCHROME2', 1],
  ['PALETTE COLOR', 1],
  ['RGB', 3],
  ['HSV', 3],
  ['YBR_FULL', 3],
  ['YBR_FULL_422', 3],
  ['YBR_PARTIAL_422', 3],
  ['YBR_PARTIAL_420', 3],
  ['YBR_ICT', 3],
  ['YBR_RCT', 3],
  ['XYB', 3],
  ['ARGB', 4],
  ['CMYK', 4],
]);

/** The attributes of the Image Pixel module that say what an image is (PS3.3 C.7.6.3, all Type 1). */
const IMAGE_DESCRIPTION: readonly (readonly [number, string])[] = [
  [Tag.Rows, 'Rows'],
  [Tag.Columns, 'Columns'],
  [Tag.SamplesPerPixel, 'Samples per Pixel'],
  [Tag.PhotometricInterpretation, 'Photometric Interpretation'],
  [Tag.BitsAllocated, 'Bits Allocated'],
  [Tag.BitsStored, 'Bits Stored'],
  [Tag.HighBit, 'High Bit'],
  [Tag.PixelRepresentation, 'Pixel Representation'],
];

function missingOf(dataset: readonly DicomElement[], attributes: readonly (readonly [number, string])[]): string[] {
  return attributes
    .filter(([tag]) => {
      const element = find(dataset, tag);
      return element === undefined || element.length === 0;
    })
    .map(([, name]) => name);
}

/**
 * The Image Pixel module (PS3.3 C.7.6.3). An image IOD must describe its image (Rows, Columns...) even when the pixel
 * data itself is absent; pixel data that is present must come with the dimensions needed to read it. Returns what the
 * pixel data checks need, or undefined when the module cannot be used.
 */
function checkPixelModule(file: DicomFile, sopClass: string | undefined, out: Collector): PixelModule | undefined {
  const dataset = file.dataset;
  const pixelData = find(dataset, Tag.PixelData) ?? find(dataset, Tag.FloatPixelData) ?? find(dataset, Tag.DoubleFloatPixelData);
  const imageName = sopClass === undefined ? undefined : IMAGE_SOP_CLASSES.get(sopClass);
  if (pixelData === undefined) {
    const missing = missingOf(dataset, IMAGE_DESCRIPTION);
    if (imageName !== undefined && (missing.includes('Rows') || missing.includes('Columns'))) {
      const at = find(dataset, Tag.SOPClassUID)?.headerOffset ?? file.datasetOffset;
      out.add(at, Tag.SOPClassUID, `the SOP Class is ${imageName}, an image object, but there is no image: no Pixel Data and no ${missing.join(', ')} (the Image Pixel module is mandatory for this object, PS3.3 C.7.6.3)`);
    } else if (imageName !== undefined && find(dataset, Tag.PixelDataProviderURL) === undefined) {
      // A multi-frame image counts its frames (Multi-frame module, Type 1); declared frames with no pixel data and no
      // provider to fetch them from are frames that are missing. (Single-frame images without pixel data are
      // tolerated: test and header-only files are common and declare nothing that is missing.)
      const framesElement = find(dataset, Tag.NumberOfFrames);
      const frames = Number(text(framesElement) ?? '');
      if (framesElement !== undefined && Number.isInteger(frames) && frames >= 1) {
        out.add(framesElement.headerOffset, Tag.NumberOfFrames, `Number of Frames says this ${imageName} has ${frames} frame(s), but there is no Pixel Data (and no Pixel Data Provider URL): the frames are missing (PS3.3 C.7.6.6, C.7.6.3)`);
      }
    }
    return undefined;
  }
  const missing = missingOf(dataset, IMAGE_DESCRIPTION.slice(0, 5)).filter((name) => name !== 'Samples per Pixel' && name !== 'Photometric Interpretation');
  if (missing.length > 0) {
    // Only a SOP instance is held to its IOD; pixel data in a data set with no SOP Class is simply not checked.
    if (sopClass === undefined || sopClass === '') return undefined;
    out.add(pixelData.headerOffset, pixelData.tag, `the file has pixel data but no ${missing.join(', ')}, so the image cannot be read (Image Pixel module, PS3.3 C.7.6.3)`);
    return undefined;
  }
  const integer = pixelData.tag === Tag.PixelData;
  const rowsElement = find(dataset, Tag.Rows);
  const columnsElement = find(dataset, Tag.Columns);
  const rows = uint16(rowsElement) ?? 0;
  const columns = uint16(columnsElement) ?? 0;
  const photometricElement = find(dataset, Tag.PhotometricInterpretation);
  const photometric = text(photometricElement) ?? '';
  const samplesElement = find(dataset, Tag.SamplesPerPixel);
  // Samples per Pixel follows from the photometric interpretation when a writer left it out.
  const samples = uint16(samplesElement) ?? PHOTOMETRIC_SAMPLES.get(photometric) ?? 0;
  const bitsAllocatedElement = find(dataset, Tag.BitsAllocated);
  const bitsAllocated = uint16(bitsAllocatedElement) ?? 0;
  const bitsStoredElement = find(dataset, Tag.BitsStored);
  const bitsStored = integer ? uint16(bitsStoredElement) : undefined;
  const highBitElement = find(dataset, Tag.HighBit);
  const highBit = integer ? uint16(highBitElement) : undefined;
  let usable = true;
  if (rows === 0 || columns === 0) {
    const element = rows === 0 ? rowsElement : columnsElement;
    out.add(element?.headerOffset ?? pixelData.headerOffset, element?.tag, 'the image has zero Rows or Columns (PS3.3 C.7.6.3)');
    usable = false;
  }
  if (integer && bitsAllocated !== 1 && bitsAllocated % 8 !== 0) {
    out.add(bitsAllocatedElement?.headerOffset ?? 0, Tag.BitsAllocated, `Bits Allocated is ${bitsAllocated}; it must be 1 or a multiple of 8 (PS3.5 8.1.1)`);
    usable = false;
  }
  if (!integer && bitsAllocated !== (pixelData.tag === Tag.FloatPixelData ? 32 : 64)) {
    out.add(bitsAllocatedElement?.headerOffset ?? 0, Tag.BitsAllocated, `Bits Allocated is ${bitsAllocated} but floating point pixel data is ${pixelData.tag === Tag.FloatPixelData ? 32 : 64} bits (PS3.3 C.7.6.24)`);
    usable = false;
  }
  if (bitsStored !== undefined && (bitsStored === 0 || bitsStored > bitsAllocated)) {
    out.add(bitsStoredElement?.headerOffset ?? 0, Tag.BitsStored, `Bits Stored (${bitsStored}) must be between 1 and Bits Allocated (${bitsAllocated}) (PS3.3 C.7.6.3, PS3.5 8.1.1)`);
  } else if (bitsStored !== undefined && highBit !== undefined && highBit !== bitsStored - 1) {
    out.add(highBitElement?.headerOffset ?? 0, Tag.HighBit, `High Bit (${highBit}) must be one less than Bits Stored (${bitsStored}) (PS3.3 C.7.6.3)`);
  }
  const expectedSamples = PHOTOMETRIC_SAMPLES.get(photometric);
  if (samplesElement !== undefined && expectedSamples !== undefined && expectedSamples !== samples) {
    out.add(photometricElement?.headerOffset ?? 0, Tag.PhotometricInterpretation, `the Photometric Interpretation ${photometric} has ${expectedSamples} sample(s) per pixel but Samples per Pixel is ${samples} (PS3.3 C.7.6.3.1.2)`);
    usable = false;
  }
  const framesElement = find(dataset, Tag.NumberOfFrames);
  let frames = 1;
  if (framesElement !== undefined && framesElement.length > 0) {
    const value = text(framesElement) ?? '';
    if (!/^[+]?[0-9]{1,12}$/.test(value) || Number(value) < 1) {
      out.add(framesElement.headerOffset, Tag.NumberOfFrames, `Number of Frames "${value.replace(/[^ -~]/g, '?').slice(0, 16)}" is not a whole number of at least 1 (Integer String, PS3.5 6.2; PS3.3 C.7.6.6)`);
      usable = false;
    } else frames = Number(value);
  }
  return usable && samples > 0 ? { rows, columns, samples, bitsAllocated, bitsStored, photometric, frames } : undefined;
}

/** Native pixel data holds Rows × Columns × Samples × Bits Allocated × Frames bits, padded to even (PS3.5 8.1.1). */
function checkNativeLength(pixelData: DicomElement, pixel: PixelModule, out: Collector): void {
  const { rows, columns, samples, bitsAllocated, frames, photometric } = pixel;
  // YBR_FULL_422 native data carries two chroma samples per pair of pixels (PS3.3 C.7.6.3.1.2).
  const samplesInData = photometric === 'YBR_FULL_422' ? 2 : samples;
  const bits = rows * columns * samplesInData * bitsAllocated * frames;
  const expected = Math.ceil(bits / 8);
  const actual = pixelData.valueLength;
  // Longer than needed is tolerated (some writers pad or leave trailing bytes); shorter means pixels are missing.
  if (actual >= expected) return;
  const formula = `Rows × Columns × ${photometric === 'YBR_FULL_422' ? '2 (YBR_FULL_422)' : 'Samples per Pixel'} × Bits Allocated / 8 × Number of Frames = ${rows} × ${columns} × ${samplesInData} × ${bitsAllocated} / 8 × ${frames} = ${expected}`;
  out.add(pixelData.headerOffset, pixelData.tag, `the Pixel Data has ${actual} bytes but the image attributes need ${formula} bytes: the pixel data is incomplete or the image attributes are wrong (PS3.5 8.1.1)`);
}

/** Encapsulated pixel data (PS3.5 A.4): the Basic Offset Table, and the first frame's codestream header vs the data set. */
function checkEncapsulated(file: DicomFile, pixelData: DicomElement, pixel: PixelModule | undefined, ts: CompressedSyntax | undefined, out: Collector): void {
  const fragments = pixelData.fragments ?? [];
  const tag = pixelData.tag;
  if (fragments.length < 2) {
    out.add(pixelData.headerOffset, tag, 'the encapsulated Pixel Data has no fragment after the Basic Offset Table: the compressed image is missing (PS3.5 A.4)');
    return;
  }
  const table = fragments[0];
  const frames = pixel?.frames ?? 1;
  const source = file.datasetSource;
  if (table !== undefined && table.length > 0) {
    const hasExtended = find(file.dataset, Tag.ExtendedOffsetTable) !== undefined;
    if (hasExtended) {
      out.add(table.offset - 8, tag, 'the Basic Offset Table must be empty when an Extended Offset Table is present (PS3.5 A.4)');
    } else if (table.length % 4 !== 0 || table.length / 4 !== frames) {
      out.add(table.offset - 8, tag, `the Basic Offset Table has ${table.length} bytes, which is not one 4-byte offset for each of the ${frames} frame(s) (PS3.5 A.4)`);
    } else {
      const bytes = source.read(table.offset, table.length).slice();
      let expected = 0;
      const starts = new Set<number>();
      for (let at = 1; at < fragments.length; at++) {
        starts.add(expected);
        expected += 8 + (fragments[at]?.length ?? 0);
      }
      let previous = -1;
      for (let frame = 0; frame < frames; frame++) {
        const offset = le32(bytes, frame * 4);
        if ((frame === 0 && offset !== 0) || offset <= previous || !starts.has(offset)) {
          out.add(table.offset - 8, tag, `the Basic Offset Table entry of frame ${frame + 1} (${offset}) does not point to the start of a fragment (PS3.5 A.4)`);
          break;
        }
        previous = offset;
      }
    }
  }
  if (fragments.length - 1 < frames) {
    out.add(pixelData.headerOffset, tag, `the Pixel Data has ${frames} frames but only ${fragments.length - 1} fragment(s): some frames are missing (PS3.5 A.4)`);
  }
  const first = fragments[1];
  if (ts === undefined || pixel === undefined || first === undefined) return;
  const bytes = source.read(first.offset, Math.min(first.length, HEADER_WINDOW)).slice();
  const where = (at: number): number => first.offset + at;
  if (ts.codec === 'jpeg' || ts.codec === 'jpeg-ls') checkJpeg(bytes, where, tag, pixel, ts, out);
  else if (ts.codec === 'jpeg-2000') checkJpeg2000(bytes, where, tag, pixel, ts, out);
  else checkRle(bytes, first.length, where, tag, pixel, out);
}

const SOF_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf, 0xf7]);

/** JPEG (ITU-T Tag.81) and JPEG-LS (ITU-T Tag.87): markers up to the first scan, frame header vs the data set. */
function checkJpeg(bytes: Uint8Array, where: (at: number) => number, tag: number, pixel: PixelModule, ts: CompressedSyntax, out: Collector): void {
  const codec = ts.codec === 'jpeg-ls' ? 'JPEG-LS' : 'JPEG';
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) {
    out.add(where(0), tag, `the first frame does not start with a ${codec} Start of Image marker (FFD8), although the transfer syntax is ${ts.name} (PS3.5 A.4.1)`);
    return;
  }
  let pos = 2;
  let sof: { marker: number; at: number; precision: number; rows: number; columns: number; components: number } | undefined;
  let adobeTransform: number | undefined;
  for (;;) {
    if (pos + 4 > bytes.length) return; // the header is longer than the window read: nothing more is checked
    if (bytes[pos] !== 0xff) {
      out.add(where(pos), tag, `the ${codec} stream of the first frame has no marker where one is expected (byte ${pos} of the frame): the compressed stream is corrupt (ITU-T Tag.81 B.1)`);
      return;
    }
    const marker = bytes[pos + 1] ?? 0;
    if (marker === 0xff) {
      pos += 1; // fill byte
      continue;
    }
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      pos += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xd8 || marker === 0x00) {
      out.add(where(pos), tag, `the ${codec} stream of the first frame has marker FF${marker.toString(16).toUpperCase().padStart(2, '0')} before any scan: the compressed stream is corrupt (ITU-T Tag.81 B.2)`);
      return;
    }
    const length = be16(bytes, pos + 2);
    if (length < 2) {
      out.add(where(pos), tag, `the ${codec} marker segment at byte ${pos} of the first frame has an invalid length (${length}) (ITU-T Tag.81 B.1.1.4)`);
      return;
    }
    const body = pos + 4;
    if (SOF_MARKERS.has(marker)) {
      if (pos + 2 + length > bytes.length) return;
      const components = bytes[body + 5] ?? 0;
      if (length !== 8 + 3 * components) {
        out.add(where(pos), tag, `the ${codec} frame header of the first frame has length ${length}, which does not fit its ${components} component(s) (ITU-T Tag.81 B.2.2)`);
        return;
      }
      sof = { marker, at: pos, precision: bytes[body] ?? 0, rows: be16(bytes, body + 1), columns: be16(bytes, body + 3), components };
    } else if (marker === 0xee && length >= 14 && pos + 2 + length <= bytes.length && decodeAscii(bytes.subarray(body, body + 5)) === 'Adobe') {
      adobeTransform = bytes[body + 11];
    } else if (marker === 0xda) {
      if (sof === undefined) {
        out.add(where(pos), tag, `the ${codec} stream of the first frame starts a scan before any frame header (SOF): the compressed stream is corrupt (ITU-T Tag.81 B.2)`);
        return;
      }
      checkJpegFrame(sof, adobeTransform, bytes, pos, where, tag, pixel, ts, codec, out);
      return;
    }
    pos += 2 + length;
  }
}

function checkJpegFrame(
  sof: { marker: number; at: number; precision: number; rows: number; columns: number; components: number },
  adobeTransform: number | undefined,
  bytes: Uint8Array,
  sosAt: number,
  where: (at: number) => number,
  tag: number,
  pixel: PixelModule,
  ts: CompressedSyntax,
  codec: string,
  out: Collector,
): void {
  const markerName = `FF${sof.marker.toString(16).toUpperCase()}`;
  if (ts.codec === 'jpeg-ls' ? sof.marker !== 0xf7 : ts.sof !== undefined && !ts.sof.includes(sof.marker)) {
    out.add(where(sof.at), tag, `the first frame is coded with the JPEG process of marker ${markerName}, which the transfer syntax ${ts.name} does not allow (PS3.5 A.4.1, 8.2.1)`);
    return;
  }
  if (sof.columns !== pixel.columns || (sof.rows !== 0 && sof.rows !== pixel.rows)) {
    out.add(where(sof.at), tag, `the ${codec} frame header says the image is ${sof.columns} × ${sof.rows} pixels but Columns × Rows is ${pixel.columns} × ${pixel.rows} (PS3.5 8.2)`);
  }
  if (sof.components !== pixel.samples) {
    out.add(where(sof.at), tag, `the ${codec} frame header has ${sof.components} component(s) but Samples per Pixel is ${pixel.samples} (PS3.5 8.2)`);
  }
  if (pixel.bitsStored !== undefined && sof.precision < pixel.bitsStored && ts.codec === 'jpeg' && sof.marker !== 0xc3) {
    out.add(where(sof.at), tag, `the ${codec} stream has ${sof.precision}-bit samples but Bits Stored is ${pixel.bitsStored}: the stored values cannot hold the image (PS3.5 8.2.1)`);
  }
  if (adobeTransform !== undefined && sof.components === 3) {
    const ybr = pixel.photometric.startsWith('YBR_');
    if (adobeTransform === 0 && ybr) {
      out.add(where(sof.at), tag, `the JPEG stream's Adobe marker says its colours are RGB (no colour transform) but the Photometric Interpretation is ${pixel.photometric} (PS3.5 8.2.1)`);
    } else if (adobeTransform === 1 && pixel.photometric === 'RGB') {
      out.add(where(sof.at), tag, `the JPEG stream's Adobe marker says its colours are YCbCr but the Photometric Interpretation is RGB (PS3.5 8.2.1)`);
    }
  }
  if (ts.codec !== 'jpeg') return;
  const length = be16(bytes, sosAt + 2);
  const count = bytes[sosAt + 4] ?? 0;
  if (sosAt + 2 + length > bytes.length || length !== 6 + 2 * count) {
    if (sosAt + 2 + length <= bytes.length) out.add(where(sosAt), tag, `the JPEG scan header of the first frame has length ${length}, which does not fit its ${count} component(s) (ITU-T Tag.81 B.2.3)`);
    return;
  }
  const ss = bytes[sosAt + 5 + 2 * count] ?? 0;
  const se = bytes[sosAt + 6 + 2 * count] ?? 0;
  const approximation = bytes[sosAt + 7 + 2 * count] ?? 0;
  // A sequential DCT scan should have spectral selection 0-63 (Tag.81 B.2.3), but encoders that write 0-0 are common and
  // decoders accept it, so that is not treated as an error here.
  if (sof.marker === 0xc3) {
    if (ss < 1 || ss > 7 || se !== 0 || approximation >> 4 !== 0) {
      out.add(where(sosAt), tag, `the JPEG lossless scan header of the first frame has predictor ${ss}, end of selection ${se} and successive approximation ${approximation >> 4}; they must be 1-7, 0 and 0 (ITU-T Tag.81 H.1.2.2)`);
    } else if (ts.predictor1 === true && ss !== 1) {
      out.add(where(sosAt), tag, `the JPEG lossless stream uses predictor ${ss} but the transfer syntax ${ts.name} requires predictor 1 (PS3.5 A.4.1)`);
    }
  }
}

/** JPEG 2000 codestream (ISO/IEC 15444-1 A.5.1): SOC then SIZ, whose image size and components must match the data set. */
function checkJpeg2000(bytes: Uint8Array, where: (at: number) => number, tag: number, pixel: PixelModule, ts: CompressedSyntax, out: Collector): void {
  if (be32(bytes, 0) === 0x0000000c && be32(bytes, 4) === 0x6a502020) {
    return; // a JP2 file header (PS3.5 8.2.4 says it shall not be included, but writers do): its codestream is not located here
  }
  if (bytes[0] !== 0xff || bytes[1] !== 0x4f || bytes[2] !== 0xff || bytes[3] !== 0x51) {
    out.add(where(0), tag, `the first frame does not start with a JPEG 2000 codestream (SOC and SIZ markers), although the transfer syntax is ${ts.name} (PS3.5 A.4.4)`);
    return;
  }
  if (bytes.length < 44) return;
  const length = be16(bytes, 4);
  const width = be32(bytes, 8) - be32(bytes, 16);
  const height = be32(bytes, 12) - be32(bytes, 20);
  const components = be16(bytes, 40);
  if (length !== 38 + 3 * components) {
    out.add(where(2), tag, `the JPEG 2000 image header (SIZ) has length ${length}, which does not fit its ${components} component(s): the codestream is corrupt (ISO/IEC 15444-1 A.5.1)`);
    return;
  }
  if (width !== pixel.columns || height !== pixel.rows) {
    out.add(where(2), tag, `the JPEG 2000 image header (SIZ) says the image is ${width} × ${height} pixels but Columns × Rows is ${pixel.columns} × ${pixel.rows}: the codestream is corrupt or does not belong to this data set (PS3.5 8.2.4)`);
  }
  if (components !== pixel.samples) {
    out.add(where(2), tag, `the JPEG 2000 image header (SIZ) has ${components} component(s) but Samples per Pixel is ${pixel.samples} (PS3.5 8.2.4)`);
  }
  if (bytes.length >= 42 + 3 * components) {
    for (let c = 0; c < components; c++) {
      const precision = ((bytes[42 + 3 * c] ?? 0) & 0x7f) + 1;
      if (precision > pixel.bitsAllocated) {
        out.add(where(2), tag, `the JPEG 2000 component ${c} has ${precision}-bit samples, more than Bits Allocated (${pixel.bitsAllocated}) (PS3.5 8.2.4)`);
        break;
      }
    }
  }
}

/** RLE (PS3.5 G.3, G.5): a 64-byte header with one segment per byte of each sample and valid segment offsets. */
function checkRle(bytes: Uint8Array, length: number, where: (at: number) => number, tag: number, pixel: PixelModule, out: Collector): void {
  if (bytes.length < 64) {
    out.add(where(0), tag, 'the first RLE frame is shorter than the 64-byte RLE header (PS3.5 G.5)');
    return;
  }
  const segments = le32(bytes, 0);
  const expected = pixel.samples * Math.ceil(pixel.bitsAllocated / 8);
  if (segments !== expected) {
    out.add(where(0), tag, `the RLE header of the first frame has ${segments} segment(s) but Samples per Pixel × Bits Allocated / 8 needs ${expected} (PS3.5 G.2, G.5)`);
    return;
  }
  let previous = 0;
  for (let s = 0; s < segments; s++) {
    const offset = le32(bytes, 4 + 4 * s);
    if ((s === 0 && offset !== 64) || offset <= previous || offset >= length) {
      out.add(where(4 + 4 * s), tag, `the RLE header of the first frame has an invalid offset (${offset}) for segment ${s + 1} (PS3.5 G.5)`);
      return;
    }
    previous = offset;
  }
}

function checkPixelData(file: DicomFile, sopClass: string | undefined, out: Collector): void {
  const pixel = checkPixelModule(file, sopClass, out);
  const pixelData = find(file.dataset, Tag.PixelData) ?? find(file.dataset, Tag.FloatPixelData) ?? find(file.dataset, Tag.DoubleFloatPixelData);
  if (pixelData === undefined) return;
  const uid = file.transferSyntax.uid;
  const encapsulated = pixelData.length === UNDEFINED_LENGTH;
  if (NATIVE_TRANSFER_SYNTAXES.has(uid) || pixelData.tag !== Tag.PixelData) {
    if (encapsulated) {
      out.add(pixelData.headerOffset, pixelData.tag, `the Pixel Data is encapsulated (compressed fragments) but the transfer syntax ${uid} is for uncompressed pixel data (PS3.5 A.4)`);
      return;
    }
    if (pixel !== undefined) checkNativeLength(pixelData, pixel, out);
    return;
  }
  if (!encapsulated) {
    out.add(pixelData.headerOffset, pixelData.tag, `the transfer syntax ${uid} is for compressed pixel data, but the Pixel Data is not encapsulated in fragments (PS3.5 A.4)`);
    return;
  }
  checkEncapsulated(file, pixelData, pixel, COMPRESSED_SYNTAXES.get(uid), out);
}

/** Every conformance problem found in a parsed file, file-level problems first. */
export function findConformanceIssues(file: DicomFile): ConformanceIssue[] {
  const out = new Collector();
  checkPart10(file, out);
  const sopClass = checkIdentity(file, out);
  checkEncapsulatedDocument(file, sopClass, out);
  checkUnSequences(file.dataset, out);
  checkPixelData(file, sopClass, out);
  return out.issues;
}

function detail(issue: ConformanceIssue): ErrorDetail {
  return { path: issue.tag === undefined ? `offset ${issue.offset}` : `offset ${issue.offset}, tag ${formatTag(issue.tag)}`, issue: issue.issue };
}

/** At most this many problems are reported in one error (the first ones, file-level first). */
const MAX_REPORTED = 5;

/**
 * Throws AppError('DICOM_MALFORMED') when the parsed file breaks a structural or consistency rule of the standard,
 * with one detail per problem in the parser's format (`offset N, tag (gggg,eeee)` and what is wrong).
 */
export function checkConformance(file: DicomFile): void {
  const issues = findConformanceIssues(file);
  if (issues.length > 0) throw new AppError('DICOM_MALFORMED', issues.slice(0, MAX_REPORTED).map(detail));
}

