import { AppError } from '../errors/app-error.js';
import { MemorySource, type ByteSource } from './byte-source.js';
import { lookupTag } from './dictionary.js';
import { UNDEFINED_LENGTH, type DicomElement, type DicomFile, type DicomItem } from './model.js';
import { formatTag, Tag } from './tags.js';
import {
  explicitLittle,
  implicitLittle,
  transferSyntaxInfo,
  ExplicitVRLittleEndian,
  type Encoding,
  type TransferSyntaxInfo,
} from './transfer-syntax.js';
import { decodeAscii } from './values.js';

/** VRs whose explicit encoding has a 2-byte reserved field and a 4-byte length. */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UR', 'UT', 'UN', 'SV', 'UV']);
const VALID_VRS = new Set([
  'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FL', 'FD', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'PN', 'SH', 'SL',
  'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV',
]);
const MAX_DEPTH = 32;

export interface ParseOptions {
  /** Values longer than this are not loaded, only recorded as byte ranges (default 64 KiB). */
  readonly bulkThreshold?: number;
  /** Inflates a raw-deflate stream (Deflated Explicit VR Little Endian). Node-only, so injected. */
  readonly inflate?: (deflated: Uint8Array) => Uint8Array;
  /** Stop after the file meta and these top-level tags have been seen (for quick header reads). */
  readonly stopAtTag?: number;
}

interface Context {
  readonly source: ByteSource;
  readonly bulkThreshold: number;
  readonly stopAtTag: number;
}

function malformed(offset: number, tag: number | undefined, issue: string): AppError {
  const where = tag === undefined ? `offset ${offset}` : `offset ${offset}, tag ${formatTag(tag)}`;
  return new AppError('DICOM_MALFORMED', [{ path: where, issue }]);
}

function u16(bytes: Uint8Array, at: number, little: boolean): number {
  const a = bytes[at] ?? 0;
  const b = bytes[at + 1] ?? 0;
  return little ? a | (b << 8) : (a << 8) | b;
}

function u32(bytes: Uint8Array, at: number, little: boolean): number {
  const a = bytes[at] ?? 0;
  const b = bytes[at + 1] ?? 0;
  const c = bytes[at + 2] ?? 0;
  const d = bytes[at + 3] ?? 0;
  return (little ? a | (b << 8) | (c << 16) | (d << 24) : (a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

function readTag(bytes: Uint8Array, at: number, little: boolean): number {
  return ((u16(bytes, at, little) << 16) | u16(bytes, at + 2, little)) >>> 0;
}

function need(ctx: Context, offset: number, length: number, tag: number | undefined, what: string): Uint8Array {
  if (offset + length > ctx.source.size) {
    throw malformed(offset, tag, `${what} runs past the end of the file (needs ${offset + length - ctx.source.size} more bytes)`);
  }
  const bytes = ctx.source.read(offset, length);
  if (bytes.length < length) throw malformed(offset, tag, `${what} could not be read`);
  return bytes;
}

/**
 * Parses a data set from `start` up to `end`, or, when `end` is undefined, up to an Item Delimitation Item
 * (returned as the position after it).
 */
function parseDataset(
  ctx: Context,
  start: number,
  end: number | undefined,
  encoding: Encoding,
  depth: number,
  topLevel: boolean,
): { elements: DicomElement[]; end: number } {
  if (depth > MAX_DEPTH) throw malformed(start, undefined, `sequences are nested more than ${MAX_DEPTH} levels deep`);
  const elements: DicomElement[] = [];
  const little = encoding.littleEndian;
  let pos = start;
  const limit = end ?? ctx.source.size;
  while (pos < limit) {
    if (end === undefined && pos + 8 > ctx.source.size) throw malformed(pos, undefined, 'the item ends without an Item Delimitation Item');
    const head = need(ctx, pos, Math.min(12, limit - pos) < 8 ? 8 : Math.min(12, ctx.source.size - pos), undefined, 'an element header');
    const tag = readTag(head, 0, little);
    if (tag === Tag.ItemDelimitationItem) {
      if (end !== undefined) throw malformed(pos, tag, 'an Item Delimitation Item appears inside a defined-length item');
      return { elements, end: pos + 8 };
    }
    if (tag === Tag.SequenceDelimitationItem || tag === Tag.Item) {
      if (topLevel && tag === Tag.SequenceDelimitationItem && u32(head, 4, little) === 0) {
        // A stray sequence delimiter at the end of some data sets: tolerated when it is the last thing in the file.
        if (pos + 8 === ctx.source.size) return { elements, end: pos + 8 };
      }
      throw malformed(pos, tag, 'an item or sequence delimiter appears where a data element was expected');
    }
    if (ctx.stopAtTag !== 0 && topLevel && tag >= ctx.stopAtTag) return { elements, end: pos };
    let vr: string;
    let length: number;
    let headerLength: number;
    if (encoding.explicitVr) {
      if (head.length < 8) throw malformed(pos, tag, 'the element header is truncated');
      vr = String.fromCharCode(head[4] ?? 0, head[5] ?? 0);
      if (!VALID_VRS.has(vr)) throw malformed(pos, tag, `invalid value representation "${vr.replace(/[^ -~]/g, '?')}"`);
      if (LONG_VRS.has(vr)) {
        if (head.length < 12) throw malformed(pos, tag, 'the element header is truncated');
        length = u32(head, 8, little);
        headerLength = 12;
      } else {
        length = u16(head, 6, little);
        headerLength = 8;
      }
    } else {
      vr = lookupTag(tag)?.vr ?? 'UN';
      if ((tag & 0xffff) === 0) vr = 'UL';
      length = u32(head, 4, little);
      headerLength = 8;
    }
    const valueOffset = pos + headerLength;
    if (length === UNDEFINED_LENGTH) {
      if (vr === 'SQ' || vr === 'UN') {
        // UN with undefined length is a sequence in implicit VR little endian (PS3.5 6.2.2).
        const itemEncoding = vr === 'UN' ? implicitLittle : encoding;
        const parsed = parseItems(ctx, valueOffset, undefined, itemEncoding, depth + 1, tag);
        elements.push({ tag, vr, encoding, headerOffset: pos, length, valueOffset, valueLength: parsed.valueEnd - valueOffset, end: parsed.end, items: parsed.items });
        pos = parsed.end;
      } else if (vr === 'OB' || vr === 'OW') {
        const parsed = parseFragments(ctx, valueOffset, tag, little);
        elements.push({ tag, vr, encoding, headerOffset: pos, length, valueOffset, valueLength: parsed.valueEnd - valueOffset, end: parsed.end, fragments: parsed.fragments });
        pos = parsed.end;
      } else {
        throw malformed(pos, tag, `undefined length is not allowed for VR ${vr}`);
      }
    } else {
      const valueEnd = valueOffset + length;
      if (valueEnd > limit) {
        throw malformed(pos, tag, `the value length (${length}) runs past the end of the ${end === undefined || topLevel ? 'file' : 'enclosing item'}`);
      }
      // Odd lengths are tolerated where real-world writers produce them (private data, pixel data); an odd length
      // on a standard attribute means the file is corrupt.
      if (length % 2 === 1 && ((tag >>> 16) & 1) === 0 && tag >>> 16 > 0x0002 && tag !== Tag.PixelData) {
        throw malformed(pos, tag, `odd value length (${length}); DICOM values have even lengths`);
      }
      if (vr === 'SQ') {
        const parsed = parseItems(ctx, valueOffset, valueEnd, encoding, depth + 1, tag);
        elements.push({ tag, vr, encoding, headerOffset: pos, length, valueOffset, valueLength: length, end: valueEnd, items: parsed.items });
      } else if (vr === 'UN' && length > 0 && lookupTag(tag)?.vr === 'SQ') {
        let items: DicomItem[] | undefined;
        try {
          items = parseItems(ctx, valueOffset, valueEnd, implicitLittle, depth + 1, tag).items;
        } catch {
          items = undefined;
        }
        if (items !== undefined) elements.push({ tag, vr, encoding, headerOffset: pos, length, valueOffset, valueLength: length, end: valueEnd, items });
        else elements.push(leaf(ctx, tag, vr, encoding, pos, length, valueOffset));
      } else {
        elements.push(leaf(ctx, tag, vr, encoding, pos, length, valueOffset));
      }
      pos = valueEnd;
    }
  }
  if (end !== undefined && pos !== end) throw malformed(pos, undefined, 'the last element runs past the end of its item');
  if (end === undefined && !topLevel) throw malformed(pos, undefined, 'the item ends without an Item Delimitation Item');
  return { elements, end: pos };
}

function leaf(ctx: Context, tag: number, vr: string, encoding: Encoding, pos: number, length: number, valueOffset: number): DicomElement {
  const isBulk = length > ctx.bulkThreshold || tag === Tag.PixelData || tag === Tag.FloatPixelData || tag === Tag.DoubleFloatPixelData;
  if (isBulk) return { tag, vr, encoding, headerOffset: pos, length, valueOffset, valueLength: length, end: valueOffset + length };
  const value = ctx.source.read(valueOffset, length).slice();
  return { tag, vr, encoding, headerOffset: pos, length, valueOffset, valueLength: length, end: valueOffset + length, value };
}

function parseItems(
  ctx: Context,
  start: number,
  end: number | undefined,
  encoding: Encoding,
  depth: number,
  sequenceTag: number,
): { items: DicomItem[]; end: number; valueEnd: number } {
  const items: DicomItem[] = [];
  const little = encoding.littleEndian;
  let pos = start;
  for (;;) {
    if (end !== undefined && pos === end) return { items, end: pos, valueEnd: pos };
    if (end !== undefined && pos + 8 > end) throw malformed(pos, sequenceTag, 'the sequence ends in the middle of an item header');
    const head = need(ctx, pos, 8, sequenceTag, 'an item header');
    const tag = readTag(head, 0, little);
    const length = u32(head, 4, little);
    if (tag === Tag.SequenceDelimitationItem) {
      if (end !== undefined) throw malformed(pos, sequenceTag, 'a Sequence Delimitation Item appears in a defined-length sequence');
      return { items, end: pos + 8, valueEnd: pos };
    }
    if (tag !== Tag.Item) throw malformed(pos, sequenceTag, `expected an Item in the sequence, found ${formatTag(tag)}`);
    if (length === UNDEFINED_LENGTH) {
      const parsed = parseDataset(ctx, pos + 8, undefined, encoding, depth, false);
      items.push({ headerOffset: pos, length, end: parsed.end, encoding, elements: parsed.elements });
      pos = parsed.end;
    } else {
      const itemEnd = pos + 8 + length;
      if (itemEnd > (end ?? ctx.source.size)) throw malformed(pos, sequenceTag, `the item length (${length}) runs past the end of the sequence`);
      const parsed = parseDataset(ctx, pos + 8, itemEnd, encoding, depth, false);
      items.push({ headerOffset: pos, length, end: itemEnd, encoding, elements: parsed.elements });
      pos = itemEnd;
    }
  }
}

function parseFragments(
  ctx: Context,
  start: number,
  tag: number,
  little: boolean,
): { fragments: { offset: number; length: number }[]; end: number; valueEnd: number } {
  const fragments: { offset: number; length: number }[] = [];
  let pos = start;
  for (;;) {
    const head = need(ctx, pos, 8, tag, 'an encapsulated pixel data item header');
    const itemTag = readTag(head, 0, little);
    const length = u32(head, 4, little);
    if (itemTag === Tag.SequenceDelimitationItem) return { fragments, end: pos + 8, valueEnd: pos };
    if (itemTag !== Tag.Item) throw malformed(pos, tag, `expected a pixel data fragment item, found ${formatTag(itemTag)}`);
    if (length === UNDEFINED_LENGTH) throw malformed(pos, tag, 'a pixel data fragment has an undefined length');
    if (pos + 8 + length > ctx.source.size) throw malformed(pos, tag, `a pixel data fragment (${length} bytes) runs past the end of the file`);
    fragments.push({ offset: pos + 8, length });
    pos += 8 + length;
  }
}

function looksLikeExplicitVr(bytes: Uint8Array, at: number): boolean {
  return VALID_VRS.has(String.fromCharCode(bytes[at + 4] ?? 0, bytes[at + 5] ?? 0));
}

/**
 * Parses a DICOM Part 10 file (or a bare data set without preamble and file meta, in little endian). Large values
 * such as PixelData are never read: they are byte ranges of the source. Errors are AppError('DICOM_MALFORMED')
 * with the file offset and tag.
 */
export function parseDicom(source: ByteSource, options: ParseOptions = {}): DicomFile {
  const ctx: Context = { source, bulkThreshold: options.bulkThreshold ?? 64 * 1024, stopAtTag: options.stopAtTag ?? 0 };
  if (source.size === 0) throw malformed(0, undefined, 'the file is empty');
  const start = source.read(0, Math.min(source.size, 132));
  let metaStart: number | undefined;
  let hasPreamble = false;
  if (start.length >= 132 && start[128] === 0x44 && start[129] === 0x49 && start[130] === 0x43 && start[131] === 0x4d) {
    metaStart = 132;
    hasPreamble = true;
  } else if (start.length >= 8 && u16(start, 0, true) === 0x0002 && looksLikeExplicitVr(start, 0)) {
    metaStart = 0;
  }
  let meta: DicomElement[] = [];
  let metaMismatch: { element: DicomElement; declaredEnd: number } | undefined;
  let datasetOffset = 0;
  let ts: TransferSyntaxInfo;
  if (metaStart !== undefined) {
    if (metaStart >= source.size) throw malformed(metaStart, undefined, 'the file ends after the DICM prefix: there is no file meta information');
    // File meta: explicit VR little endian, group 0002 only.
    const metaCtx: Context = { ...ctx, stopAtTag: 0x00030000 };
    const parsed = parseMetaGroup(metaCtx, metaStart);
    meta = parsed.elements;
    datasetOffset = parsed.end;
    const groupLength = meta.find((element) => element.tag === Tag.FileMetaInformationGroupLength);
    if (groupLength?.value !== undefined) {
      const declared = u32(groupLength.value, 0, true);
      // Some writers count an element of the next group in the meta group length: accepted when the declared end
      // falls on an element boundary of the data set (checked after parsing), an error otherwise.
      if (groupLength.end + declared !== datasetOffset) metaMismatch = { element: groupLength, declaredEnd: groupLength.end + declared };
    }
    const tsElement = meta.find((element) => element.tag === Tag.TransferSyntaxUID);
    if (tsElement?.value === undefined) throw malformed(metaStart, Tag.TransferSyntaxUID, 'the file meta information has no Transfer Syntax UID');
    const uid = decodeAscii(tsElement.value).replace(/[\0 ]+$/, '');
    if (!/^[0-9.]+$/.test(uid)) throw malformed(tsElement.headerOffset, tsElement.tag, 'the Transfer Syntax UID is not a valid UID');
    ts = transferSyntaxInfo(uid);
  } else {
    const head = source.read(0, Math.min(source.size, 8));
    if (head.length < 8) throw malformed(0, undefined, 'the file is too short to be DICOM');
    const group = u16(head, 0, true);
    if (group === 0 || group > 0x0100 || group % 2 === 1) {
      throw malformed(0, undefined, 'no DICM prefix and no recognisable data set at the start: this is not a DICOM file (or it is big endian without file meta)');
    }
    ts = looksLikeExplicitVr(head, 0) ? { uid: ExplicitVRLittleEndian, ...explicitLittle, deflated: false } : transferSyntaxInfo('1.2.840.10008.1.2');
  }
  let datasetSource = source;
  if (ts.deflated) {
    if (options.inflate === undefined) throw new AppError('DICOM_UNSUPPORTED', [{ path: 'TransferSyntaxUID', issue: 'deflated data sets need the Node runner' }]);
    let inflated: Uint8Array;
    try {
      inflated = options.inflate(source.read(datasetOffset, source.size - datasetOffset).slice());
    } catch {
      throw malformed(datasetOffset, undefined, 'the deflated data set could not be inflated');
    }
    datasetSource = new MemorySource(inflated);
    datasetOffset = 0;
  }
  const datasetCtx: Context = { ...ctx, source: datasetSource };
  const dataset = parseDataset(datasetCtx, datasetOffset, undefined, ts, 0, true).elements;
  if (metaMismatch !== undefined && !ts.deflated) {
    const { element, declaredEnd } = metaMismatch;
    if (declaredEnd !== source.size && !dataset.some((candidate) => candidate.headerOffset === declaredEnd)) {
      throw malformed(element.headerOffset, element.tag, `the file meta group length says ${declaredEnd - element.end} bytes but the group has ${datasetOffset - element.end}`);
    }
  }
  return { source, datasetSource, hasPreamble, meta, dataset, transferSyntax: ts, datasetOffset };
}

function parseMetaGroup(ctx: Context, start: number): { elements: DicomElement[]; end: number } {
  const elements: DicomElement[] = [];
  let pos = start;
  // Element by element, so the loop stops at the first tag outside group 0002.
  while (pos + 8 <= ctx.source.size) {
    const head = ctx.source.read(pos, 12);
    const tag = readTag(head, 0, true);
    if (tag >>> 16 !== 0x0002) break;
    const one = parseOne(ctx, pos);
    elements.push(one);
    pos = one.end;
  }
  if (elements.length === 0) throw malformed(start, undefined, 'there is no file meta information after the DICM prefix');
  return { elements, end: pos };
}

function parseOne(ctx: Context, pos: number): DicomElement {
  const head = need(ctx, pos, 8, undefined, 'a file meta element header');
  const tag = readTag(head, 0, true);
  const vr = String.fromCharCode(head[4] ?? 0, head[5] ?? 0);
  if (!VALID_VRS.has(vr)) throw malformed(pos, tag, 'invalid value representation in the file meta information');
  const long = LONG_VRS.has(vr);
  const lengthBytes = long ? need(ctx, pos, 12, tag, 'a file meta element header') : head;
  const length = long ? u32(lengthBytes, 8, true) : u16(head, 6, true);
  const valueOffset = pos + (long ? 12 : 8);
  if (length === UNDEFINED_LENGTH || valueOffset + length > ctx.source.size) throw malformed(pos, tag, 'a file meta element runs past the end of the file');
  return leaf({ ...ctx, bulkThreshold: 1 << 20 }, tag, vr, explicitLittle, pos, length, valueOffset);
}
