import { AppError } from '../errors/app-error.js';
import type { ByteSource } from './byte-source.js';
import { type DicomElement, type DicomFile, UNDEFINED_LENGTH } from './model.js';
import { formatTag, Tag } from './tags.js';
import { explicitLittle, type Encoding } from './transfer-syntax.js';
import { encodeStringValue } from './values.js';

/** A byte range of the data set source, copied as it is (pixel data and other large values). */
export interface SourceRange {
  readonly offset: number;
  readonly length: number;
}
export type Segment = Uint8Array | SourceRange;

/** What to write for one element. */
export type OutElement =
  | { readonly kind: 'raw'; readonly element: DicomElement }
  /** `generated`: written by the caller itself (e.g. de-identification markers), not derived from the source. */
  | { readonly kind: 'value'; readonly tag: number; readonly vr: string; readonly value: Uint8Array; readonly generated?: true }
  | {
      readonly kind: 'sequence';
      readonly tag: number;
      readonly vr: string;
      readonly undefinedLength: boolean;
      /** Encoding of the items (implicit little endian inside a UN sequence). */
      readonly itemEncoding: Encoding;
      readonly items: readonly (readonly OutElement[])[];
    };

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UR', 'UT', 'UN', 'SV', 'UV']);
/** Raw elements larger than this are emitted as source ranges rather than copied into the header buffer. */
const COPY_LIMIT = 64 * 1024;

export function outTag(element: OutElement): number {
  return element.kind === 'raw' ? element.element.tag : element.tag;
}

class ByteBuilder {
  private buffer: Uint8Array;
  private length = 0;
  readonly segments: Segment[] = [];

  constructor(initialSize = 8 * 1024) {
    this.buffer = new Uint8Array(initialSize);
  }

  private ensure(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
  }

  bytes(data: Uint8Array): void {
    this.ensure(data.length);
    this.buffer.set(data, this.length);
    this.length += data.length;
  }

  u16(value: number, little: boolean): void {
    this.ensure(2);
    const b = this.buffer;
    if (little) {
      b[this.length] = value & 0xff;
      b[this.length + 1] = (value >>> 8) & 0xff;
    } else {
      b[this.length] = (value >>> 8) & 0xff;
      b[this.length + 1] = value & 0xff;
    }
    this.length += 2;
  }

  u32(value: number, little: boolean): void {
    if (little) {
      this.u16(value & 0xffff, true);
      this.u16((value >>> 16) & 0xffff, true);
    } else {
      this.u16((value >>> 16) & 0xffff, false);
      this.u16(value & 0xffff, false);
    }
  }

  tag(tag: number, little: boolean): void {
    this.u16(tag >>> 16, little);
    this.u16(tag & 0xffff, little);
  }

  range(range: SourceRange): void {
    this.flush();
    this.segments.push(range);
  }

  flush(): void {
    if (this.length === 0) return;
    this.segments.push(this.buffer.slice(0, this.length));
    this.length = 0;
  }
}

function headerLength(vr: string, encoding: Encoding): number {
  return !encoding.explicitVr ? 8 : LONG_VRS.has(vr) ? 12 : 8;
}

function writeHeader(out: ByteBuilder, tag: number, vr: string, length: number, encoding: Encoding): void {
  const little = encoding.littleEndian;
  out.tag(tag, little);
  if (!encoding.explicitVr) {
    out.u32(length, little);
    return;
  }
  out.bytes(Uint8Array.of(vr.charCodeAt(0), vr.charCodeAt(1)));
  if (LONG_VRS.has(vr)) {
    out.u16(0, little);
    out.u32(length, little);
  } else {
    if (length > 0xffff) throw new AppError('INTERNAL', [{ path: formatTag(tag), issue: `value too long for VR ${vr}` }]);
    out.u16(length, little);
  }
}

/** Encoded size of a data set (items of defined length). */
function datasetSize(elements: readonly OutElement[], encoding: Encoding): number {
  let total = 0;
  for (const element of elements) total += elementSize(element, encoding);
  return total;
}

function elementSize(element: OutElement, encoding: Encoding): number {
  switch (element.kind) {
    case 'raw':
      return element.element.end - element.element.headerOffset;
    case 'value':
      return headerLength(element.vr, encoding) + element.value.length;
    case 'sequence': {
      let size = headerLength(element.vr, encoding);
      for (const item of element.items) size += 8 + datasetSize(item, element.itemEncoding) + (element.undefinedLength ? 8 : 0);
      return size + (element.undefinedLength ? 8 : 0);
    }
  }
}

function writeDataset(out: ByteBuilder, source: ByteSource, elements: readonly OutElement[], encoding: Encoding): void {
  for (const element of elements) {
    switch (element.kind) {
      case 'raw': {
        const { headerOffset, end } = element.element;
        if (end - headerOffset > COPY_LIMIT) out.range({ offset: headerOffset, length: end - headerOffset });
        else out.bytes(source.read(headerOffset, end - headerOffset));
        break;
      }
      case 'value':
        if (element.value.length % 2 === 1) throw new AppError('INTERNAL', [{ path: formatTag(element.tag), issue: 'odd value length' }]);
        writeHeader(out, element.tag, element.vr, element.value.length, encoding);
        out.bytes(element.value);
        break;
      case 'sequence': {
        const little = element.itemEncoding.littleEndian;
        const contentLength = element.undefinedLength ? UNDEFINED_LENGTH : elementSize(element, encoding) - headerLength(element.vr, encoding);
        writeHeader(out, element.tag, element.vr, contentLength, encoding);
        for (const item of element.items) {
          out.tag(Tag.Item, little);
          out.u32(element.undefinedLength ? UNDEFINED_LENGTH : datasetSize(item, element.itemEncoding), little);
          writeDataset(out, source, item, element.itemEncoding);
          if (element.undefinedLength) {
            out.tag(Tag.ItemDelimitationItem, little);
            out.u32(0, little);
          }
        }
        if (element.undefinedLength) {
          out.tag(Tag.SequenceDelimitationItem, little);
          out.u32(0, little);
        }
        break;
      }
    }
  }
}

/** Meta elements to write; FileMetaInformationGroupLength is computed. */
export interface FileMeta {
  readonly mediaStorageSOPClassUID: string;
  readonly mediaStorageSOPInstanceUID: string;
  readonly transferSyntaxUID: string;
  readonly implementationClassUID: string;
  readonly implementationVersionName: string;
}

/** A new 128-byte preamble of zeros, DICM and a new file meta group (PS3.15 E.1.1 item 7: both are replaced). */
export function encodeFileMeta(meta: FileMeta): Uint8Array {
  const body = new ByteBuilder(512);
  const element = (tag: number, vr: string, value: Uint8Array): void => {
    writeHeader(body, tag, vr, value.length, explicitLittle);
    body.bytes(value);
  };
  element(Tag.FileMetaInformationVersion, 'OB', Uint8Array.of(0, 1));
  element(Tag.MediaStorageSOPClassUID, 'UI', encodeStringValue('UI', meta.mediaStorageSOPClassUID));
  element(Tag.MediaStorageSOPInstanceUID, 'UI', encodeStringValue('UI', meta.mediaStorageSOPInstanceUID));
  element(Tag.TransferSyntaxUID, 'UI', encodeStringValue('UI', meta.transferSyntaxUID));
  element(Tag.ImplementationClassUID, 'UI', encodeStringValue('UI', meta.implementationClassUID));
  element(Tag.ImplementationVersionName, 'SH', encodeStringValue('SH', meta.implementationVersionName));
  body.flush();
  const bodyBytes = body.segments as Uint8Array[];
  const bodyLength = bodyBytes.reduce((sum, chunk) => sum + chunk.length, 0);
  const head = new ByteBuilder(1024);
  head.bytes(new Uint8Array(128));
  head.bytes(Uint8Array.of(0x44, 0x49, 0x43, 0x4d));
  writeHeader(head, Tag.FileMetaInformationGroupLength, 'UL', 4, explicitLittle);
  head.u32(bodyLength, true);
  for (const chunk of bodyBytes) head.bytes(chunk);
  head.flush();
  return head.segments[0] as Uint8Array;
}

/**
 * Serialises a data set: unchanged elements are copied byte for byte from the source (large ones as source
 * ranges, never read), changed ones are encoded in the data set's encoding.
 */
export function serializeDataset(source: ByteSource, elements: readonly OutElement[], encoding: Encoding): Segment[] {
  const out = new ByteBuilder();
  writeDataset(out, source, elements, encoding);
  out.flush();
  return out.segments;
}

/** The whole data set of a parsed file, unchanged: proves byte-exact re-serialisation. */
export function rawOutElements(file: DicomFile): OutElement[] {
  return file.dataset.map((element) => ({ kind: 'raw', element }));
}

/** Joins segments into one buffer (tests and small files; the Node runner streams ranges instead). */
export function segmentsToBytes(source: ByteSource, segments: readonly Segment[]): Uint8Array {
  let total = 0;
  for (const segment of segments) total += segment instanceof Uint8Array ? segment.length : segment.length;
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const segment of segments) {
    const chunk = segment instanceof Uint8Array ? segment : source.read(segment.offset, segment.length);
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}
