import { TextDecoder } from 'node:util';
import { inflateRawSync } from 'node:zlib';
import { tagHex, vrOfTag } from './dictionary.js';

/**
 * A fast, single-pass DICOM Part-10 header walker for the STOW path. It reads the file meta information and the
 * dataset up to the top-level PixelData and produces the dataset as DICOM JSON (PS3.18 F) with large binary values
 * replaced by bulk-data references, plus where the pixel data sits in the file. It never needs the bytes of large
 * binary values, so only the header has to be in memory.
 */

export interface DicomJsonElement {
  vr: string;
  Value?: unknown[];
  InlineBinary?: string;
  BulkDataURI?: string;
}
export type DicomJsonDataset = Record<string, DicomJsonElement>;

/** The bytes are not a readable DICOM instance. `reason` says why in plain words, with no DICOM values. */
export class DicomParseError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'DicomParseError';
  }
}

/** The walker needs bytes beyond the buffer it was given (but within the file): read up to `needed` and retry. */
export class NeedMoreBytes extends Error {
  constructor(readonly needed: number) {
    super(`need ${needed} bytes`);
    this.name = 'NeedMoreBytes';
  }
}

export interface BulkReference {
  element: DicomJsonElement;
  /** Offset of the value in the stored bytes (in the inflated dataset for deflated syntaxes). */
  offset: number;
  length: number;
}

export interface PixelDataLocation {
  /** Offset of the value (first item tag when encapsulated). */
  offset: number;
  /** Value length; undefined when encapsulated (undefined length). */
  length: number | undefined;
  vr: string;
}

export interface ParsedPart10 {
  transferSyntaxUID: string;
  dataset: DicomJsonDataset;
  bulk: BulkReference[];
  pixelData: PixelDataLocation | undefined;
  /** The dataset was deflated: offsets refer to the inflated dataset. */
  deflated: boolean;
  /** The offset where the dataset (after the file meta information) begins in the stored file. */
  datasetOffset: number;
}

export interface ParseOptions {
  /** Binary values longer than this become bulk-data references; shorter ones are inlined in base64. */
  bulkThreshold?: number;
  maxDepth?: number;
}

export const ImplicitVRLittleEndian = '1.2.840.10008.1.2';
export const ExplicitVRLittleEndian = '1.2.840.10008.1.2.1';
export const DeflatedExplicitVRLittleEndian = '1.2.840.10008.1.2.1.99';
export const ExplicitVRBigEndian = '1.2.840.10008.1.2.2';

const PIXEL_DATA = 0x7fe00010;
const ITEM = 0xfffee000;
const ITEM_DELIMITER = 0xfffee00d;
const SEQUENCE_DELIMITER = 0xfffee0dd;
const UNDEFINED = 0xffffffff;
const longVRs = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UR', 'UT', 'UN', 'SV', 'UV']);
const binaryVRs = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);
const textVRs = new Set(['SH', 'LO', 'ST', 'LT', 'UC', 'UT', 'PN']);
const singleValuedVRs = new Set(['LT', 'ST', 'UT', 'UR']);

const charsetLabels: Record<string, string> = {
  'ISO_IR 6': 'latin1',
  'ISO 2022 IR 6': 'latin1',
  'ISO_IR 100': 'latin1',
  'ISO 2022 IR 100': 'latin1',
  'ISO_IR 101': 'iso-8859-2',
  'ISO 2022 IR 101': 'iso-8859-2',
  'ISO_IR 109': 'iso-8859-3',
  'ISO 2022 IR 109': 'iso-8859-3',
  'ISO_IR 110': 'iso-8859-4',
  'ISO 2022 IR 110': 'iso-8859-4',
  'ISO_IR 144': 'iso-8859-5',
  'ISO 2022 IR 144': 'iso-8859-5',
  'ISO_IR 127': 'iso-8859-6',
  'ISO 2022 IR 127': 'iso-8859-6',
  'ISO_IR 126': 'iso-8859-7',
  'ISO 2022 IR 126': 'iso-8859-7',
  'ISO_IR 138': 'iso-8859-8',
  'ISO 2022 IR 138': 'iso-8859-8',
  'ISO_IR 148': 'iso-8859-9',
  'ISO 2022 IR 148': 'iso-8859-9',
  'ISO_IR 203': 'iso-8859-15',
  'ISO 2022 IR 203': 'iso-8859-15',
  'ISO_IR 13': 'shift_jis',
  'ISO 2022 IR 13': 'shift_jis',
  'ISO_IR 166': 'windows-874',
  'ISO 2022 IR 166': 'windows-874',
  'ISO 2022 IR 87': 'iso-2022-jp',
  'ISO 2022 IR 159': 'iso-2022-jp',
  'ISO 2022 IR 149': 'euc-kr',
  'ISO 2022 IR 58': 'gb18030',
  'ISO_IR 192': 'utf-8',
  GB18030: 'gb18030',
  GBK: 'gbk',
};
const decoders = new Map<string, TextDecoder>();
function decoderFor(label: string): TextDecoder {
  let decoder = decoders.get(label);
  if (decoder === undefined) {
    try {
      decoder = new TextDecoder(label);
    } catch {
      decoder = new TextDecoder('latin1');
    }
    decoders.set(label, decoder);
  }
  return decoder;
}

/** Parses a Part-10 file whose first `buf.length` bytes are given; `totalSize` is the size of the whole file. */
export function parsePart10(buf: Buffer, totalSize: number, options: ParseOptions = {}): ParsedPart10 {
  if (totalSize < 132) throw new DicomParseError(totalSize === 0 ? 'the part is empty' : 'too short to be a DICOM file');
  need(buf, totalSize, 0, 132);
  if (buf.toString('latin1', 128, 132) !== 'DICM') throw new DicomParseError('not a DICOM Part 10 file (no DICM prefix)');
  let pos = 132;
  let transferSyntaxUID: string | undefined;
  // File meta information: explicit VR little endian, group 0002. The group length is not trusted.
  for (;;) {
    need(buf, totalSize, pos, 8);
    const group = buf.readUInt16LE(pos);
    if (group !== 0x0002) break;
    const element = buf.readUInt16LE(pos + 2);
    const vr = buf.toString('latin1', pos + 4, pos + 6);
    if (!/^[A-Z]{2}$/.test(vr)) throw new DicomParseError('invalid value representation in the file meta information');
    let length: number;
    let header: number;
    if (longVRs.has(vr)) {
      need(buf, totalSize, pos, 12);
      length = buf.readUInt32LE(pos + 8);
      header = 12;
    } else {
      length = buf.readUInt16LE(pos + 6);
      header = 8;
    }
    if (length === UNDEFINED) throw new DicomParseError('undefined length in the file meta information');
    need(buf, totalSize, pos + header, length);
    if (element === 0x0010) transferSyntaxUID = trimUid(buf.toString('latin1', pos + header, pos + header + length));
    pos += header + length;
  }
  if (transferSyntaxUID === undefined || transferSyntaxUID === '') throw new DicomParseError('the file meta information has no transfer syntax');
  const datasetOffset = pos;
  let data = buf;
  let size = totalSize;
  let start = pos;
  const deflated = transferSyntaxUID === DeflatedExplicitVRLittleEndian;
  if (deflated) {
    if (buf.length < totalSize) throw new NeedMoreBytes(totalSize);
    try {
      data = inflateRawSync(buf.subarray(pos));
    } catch {
      throw new DicomParseError('the deflated dataset cannot be inflated');
    }
    size = data.length;
    start = 0;
  }
  const walker = new Walker(data, size, transferSyntaxUID !== ImplicitVRLittleEndian, transferSyntaxUID !== ExplicitVRBigEndian, options);
  const [dataset] = walker.dataset(start, size, 0, true);
  return { transferSyntaxUID, dataset, bulk: walker.bulk, pixelData: walker.pixelData, deflated, datasetOffset };
}

function need(buf: Buffer, totalSize: number, pos: number, length: number): void {
  const end = pos + length;
  if (end <= buf.length) return;
  if (end > totalSize) throw new DicomParseError('the file is truncated');
  throw new NeedMoreBytes(end);
}

function trimUid(text: string): string {
  return text.replace(/[\0 ]+$/, '').trim();
}

class Walker {
  readonly bulk: BulkReference[] = [];
  pixelData: PixelDataLocation | undefined;
  private decoder = decoderFor('latin1');
  private readonly bulkThreshold: number;
  private readonly maxDepth: number;
  private stopped = false;

  constructor(
    private readonly buf: Buffer,
    private readonly size: number,
    private readonly explicit: boolean,
    private readonly little: boolean,
    options: ParseOptions,
  ) {
    this.bulkThreshold = options.bulkThreshold ?? 1024;
    this.maxDepth = options.maxDepth ?? 64;
  }

  private need(pos: number, length: number): void {
    need(this.buf, this.size, pos, length);
  }

  private u16(pos: number, little = this.little): number {
    return little ? this.buf.readUInt16LE(pos) : this.buf.readUInt16BE(pos);
  }

  private u32(pos: number, little = this.little): number {
    return little ? this.buf.readUInt32LE(pos) : this.buf.readUInt32BE(pos);
  }

  private tag(pos: number, little = this.little): number {
    return ((this.u16(pos, little) << 16) | this.u16(pos + 2, little)) >>> 0;
  }

  /** Parses elements from `pos` until `end` (defined length) or an item delimiter (`end` undefined). */
  dataset(pos: number, end: number | undefined, depth: number, top: boolean, implicitLE = false): [DicomJsonDataset, number] {
    if (depth > this.maxDepth) throw new DicomParseError('sequences are nested too deeply');
    const explicit = this.explicit && !implicitLE;
    const little = this.little || implicitLE;
    const out: DicomJsonDataset = {};
    for (;;) {
      if (end !== undefined && pos >= end) return [out, pos];
      if (end === undefined && pos >= this.size) throw new DicomParseError('the file is truncated inside a sequence item');
      if (top && pos + 8 > this.size) {
        // Trailing bytes shorter than an element header: tolerated padding.
        return [out, this.size];
      }
      this.need(pos, 8);
      const tag = this.tag(pos, little);
      if (tag === ITEM_DELIMITER) {
        if (end !== undefined) throw new DicomParseError('unexpected item delimiter');
        return [out, pos + 8];
      }
      if (tag >>> 16 === 0xfffe) throw new DicomParseError('unexpected item tag in a dataset');
      let vr: string;
      let length: number;
      let valuePos: number;
      if (explicit) {
        vr = this.buf.toString('latin1', pos + 4, pos + 6);
        if (!/^[A-Z]{2}$/.test(vr)) throw new DicomParseError('invalid value representation');
        if (longVRs.has(vr)) {
          this.need(pos, 12);
          length = this.u32(pos + 8, little);
          valuePos = pos + 12;
        } else {
          length = this.u16(pos + 6, little);
          valuePos = pos + 8;
        }
      } else {
        vr = vrOfTag(tag);
        length = this.u32(pos + 4, little);
        valuePos = pos + 8;
      }
      // UN of a standard attribute (CP-246): decode with the dictionary VR; its bytes are implicit VR little endian.
      let unImplicit = false;
      if (vr === 'UN' && explicit && (tag >>> 16) % 2 === 0 && tag !== PIXEL_DATA) {
        const known = vrOfTag(tag);
        if (known !== 'UN') {
          vr = known;
          unImplicit = true;
        }
      }
      const key = tagHex(tag);
      if (tag === PIXEL_DATA && top) {
        if (length !== UNDEFINED && valuePos + length > this.size) throw new DicomParseError('the pixel data is truncated');
        if (length === UNDEFINED && valuePos + 8 > this.size) throw new DicomParseError('the pixel data is truncated');
        this.pixelData = { offset: valuePos, length: length === UNDEFINED ? undefined : length, vr: vr === 'UN' ? 'OB' : vr };
        const element: DicomJsonElement = { vr: this.pixelData.vr };
        out[key] = element;
        this.bulk.push({ element, offset: valuePos, length: length === UNDEFINED ? -1 : length });
        this.stopped = true;
        return [out, this.size];
      }
      if (length === UNDEFINED) {
        if (tag === PIXEL_DATA || (explicit && vr !== 'SQ' && vr !== 'UN' && !unImplicit)) {
          // Encapsulated data nested in a sequence (icon images): skip its fragments.
          if (tag !== PIXEL_DATA && vr !== 'OB' && vr !== 'OW') throw new DicomParseError('undefined length on an element that cannot have one');
          pos = this.skipFragments(valuePos);
          out[key] = { vr: vr === 'UN' ? 'OB' : vr };
          continue;
        }
        // SQ, or UN/implicit unknown with undefined length: a sequence (UN sequences are implicit VR LE, CP-246).
        const [items, next] = this.sequence(valuePos, undefined, depth, vr === 'UN' || unImplicit || implicitLE);
        out[key] = items.length === 0 ? { vr: 'SQ' } : { vr: 'SQ', Value: items };
        pos = next;
        continue;
      }
      const valueEnd = valuePos + length;
      if (valueEnd > this.size || (end !== undefined && valueEnd > end)) throw new DicomParseError('an element is longer than the data that holds it');
      if (vr === 'SQ') {
        const [items] = this.sequence(valuePos, valueEnd, depth, implicitLE || unImplicit);
        out[key] = items.length === 0 ? { vr: 'SQ' } : { vr: 'SQ', Value: items };
        pos = valueEnd;
        continue;
      }
      if (binaryVRs.has(vr) && length > this.bulkThreshold) {
        const element: DicomJsonElement = { vr };
        out[key] = element;
        this.bulk.push({ element, offset: valuePos, length });
        pos = valueEnd;
        continue;
      }
      this.need(valuePos, length);
      if (tag === 0x00080005) this.setCharset(valuePos, length);
      if (tag >>> 16 !== 0x0002 && (tag & 0xffff) !== 0) out[key] = this.element(vr, valuePos, length, little || unImplicit);
      pos = valueEnd;
      if (this.stopped) return [out, pos];
    }
  }

  private sequence(pos: number, end: number | undefined, depth: number, implicitLE: boolean): [DicomJsonDataset[], number] {
    const items: DicomJsonDataset[] = [];
    const little = this.little || implicitLE;
    for (;;) {
      if (end !== undefined && pos >= end) return [items, pos];
      this.need(pos, 8);
      const tag = this.tag(pos, little);
      const length = this.u32(pos + 4, little);
      if (tag === SEQUENCE_DELIMITER) {
        if (end !== undefined) throw new DicomParseError('unexpected sequence delimiter');
        return [items, pos + 8];
      }
      if (tag !== ITEM) throw new DicomParseError('a sequence holds something other than items');
      if (length === UNDEFINED) {
        const [item, next] = this.dataset(pos + 8, undefined, depth + 1, false, implicitLE);
        items.push(item);
        pos = next;
      } else {
        if (pos + 8 + length > this.size || (end !== undefined && pos + 8 + length > end)) throw new DicomParseError('a sequence item is truncated');
        const [item] = this.dataset(pos + 8, pos + 8 + length, depth + 1, false, implicitLE);
        items.push(item);
        pos = pos + 8 + length;
      }
    }
  }

  private skipFragments(pos: number): number {
    for (;;) {
      this.need(pos, 8);
      const tag = this.tag(pos, true);
      const length = this.buf.readUInt32LE(pos + 4);
      if (tag === SEQUENCE_DELIMITER) return pos + 8;
      if (tag !== ITEM || length === UNDEFINED) throw new DicomParseError('encapsulated data is malformed');
      pos += 8 + length;
      if (pos > this.size) throw new DicomParseError('encapsulated data is truncated');
    }
  }

  private setCharset(pos: number, length: number): void {
    const terms = this.buf
      .toString('latin1', pos, pos + length)
      .split('\\')
      .map((term) => term.trim())
      .filter((term) => term !== '');
    // With code extensions the last named repertoire is the one that matters for non-ASCII text.
    const label = terms.length === 0 ? 'latin1' : (charsetLabels[terms[terms.length - 1] ?? ''] ?? 'latin1');
    this.decoder = decoderFor(label);
  }

  private element(vr: string, pos: number, length: number, little: boolean): DicomJsonElement {
    if (length === 0) return { vr };
    const buf = this.buf;
    switch (vr) {
      case 'OB':
      case 'OD':
      case 'OF':
      case 'OL':
      case 'OV':
      case 'OW':
      case 'UN':
        return { vr, InlineBinary: buf.toString('base64', pos, pos + length) };
      case 'US':
        return { vr, Value: numbers(length, 2, (i) => this.u16(pos + i, little)) };
      case 'SS':
        return { vr, Value: numbers(length, 2, (i) => (little ? buf.readInt16LE(pos + i) : buf.readInt16BE(pos + i))) };
      case 'UL':
        return { vr, Value: numbers(length, 4, (i) => this.u32(pos + i, little)) };
      case 'SL':
        return { vr, Value: numbers(length, 4, (i) => (little ? buf.readInt32LE(pos + i) : buf.readInt32BE(pos + i))) };
      case 'FL':
        return { vr, Value: numbers(length, 4, (i) => finite(little ? buf.readFloatLE(pos + i) : buf.readFloatBE(pos + i))) };
      case 'FD':
        return { vr, Value: numbers(length, 8, (i) => finite(little ? buf.readDoubleLE(pos + i) : buf.readDoubleBE(pos + i))) };
      case 'SV':
        return { vr, Value: numbers(length, 8, (i) => bigToJson(little ? buf.readBigInt64LE(pos + i) : buf.readBigInt64BE(pos + i))) };
      case 'UV':
        return { vr, Value: numbers(length, 8, (i) => bigToJson(little ? buf.readBigUInt64LE(pos + i) : buf.readBigUInt64BE(pos + i))) };
      case 'AT':
        return {
          vr,
          Value: numbers(length, 4, (i) => tagHex(((this.u16(pos + i, little) << 16) | this.u16(pos + i + 2, little)) >>> 0)),
        };
      default:
        return this.stringElement(vr, pos, length);
    }
  }

  private stringElement(vr: string, pos: number, length: number): DicomJsonElement {
    const raw = textVRs.has(vr) ? this.decoder.decode(this.buf.subarray(pos, pos + length)) : this.buf.toString('latin1', pos, pos + length);
    if (singleValuedVRs.has(vr)) {
      const text = vr === 'UR' ? raw.trim() : raw.replace(/[\0 ]+$/, '');
      return text === '' ? { vr } : { vr, Value: [text] };
    }
    const parts = raw.split('\\').map((value) => (vr === 'UI' ? value.replace(/\0/g, '').trim() : value.replace(/\0+$/, '').trim()));
    if (parts.every((value) => value === '')) return { vr };
    switch (vr) {
      case 'PN':
        return { vr, Value: parts.map(personName) };
      case 'IS':
      case 'DS':
        return { vr, Value: parts.map((value) => (value === '' ? null : numberOrText(value))) };
      default:
        return { vr, Value: parts.map((value) => (value === '' ? null : value)) };
    }
  }
}

function numbers(length: number, size: number, read: (offset: number) => unknown): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i + size <= length; i += size) out.push(read(i));
  return out;
}

function finite(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}

function bigToJson(value: bigint): number | string {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString();
}

function numberOrText(value: string): number | string {
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : value;
}

function personName(value: string): Record<string, string> | null {
  if (value === '') return null;
  const [alphabetic, ideographic, phonetic] = value.split('=');
  const name: Record<string, string> = {};
  if (alphabetic !== undefined && alphabetic !== '') name.Alphabetic = alphabetic;
  if (ideographic !== undefined && ideographic !== '') name.Ideographic = ideographic;
  if (phonetic !== undefined && phonetic !== '') name.Phonetic = phonetic;
  return name;
}

/** The first string value of an element, or undefined. */
export function stringValue(dataset: DicomJsonDataset, key: string): string | undefined {
  const value = dataset[key]?.Value?.[0];
  return typeof value === 'string' ? value : undefined;
}

/** The first numeric value of an element, or undefined. */
export function numberValue(dataset: DicomJsonDataset, key: string): number | undefined {
  const value = dataset[key]?.Value?.[0];
  return typeof value === 'number' ? value : typeof value === 'string' && Number.isFinite(Number(value)) ? Number(value) : undefined;
}

/** The dataset bytes of a stored deflated instance, inflated (offsets in its metadata refer to these). */
export function inflatedDataset(file: Buffer): Buffer {
  let pos = 132;
  while (pos + 8 <= file.length && file.readUInt16LE(pos) === 0x0002) {
    const vr = file.toString('latin1', pos + 4, pos + 6);
    pos += longVRs.has(vr) ? 12 + file.readUInt32LE(pos + 8) : 8 + file.readUInt16LE(pos + 6);
  }
  return inflateRawSync(file.subarray(pos));
}
