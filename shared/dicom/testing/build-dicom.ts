// Test support: builds small DICOM files by hand (independently of the writer under test).
import { lookupTag } from '../dictionary.js';

export type TestValue = string | Uint8Array | TestItem[] | { readonly undefinedLength: true; readonly items: TestItem[] } | { readonly fragments: Uint8Array[] };
export type TestItem = [number, TestValue, string?][];

export interface BuildOptions {
  readonly explicitVr?: boolean;
  readonly littleEndian?: boolean;
  readonly transferSyntaxUID?: string;
  readonly preamble?: boolean;
  readonly undefinedItems?: boolean;
}

const LONG = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UR', 'UT', 'UN', 'SV', 'UV']);

class Out {
  bytes: number[] = [];
  u16(v: number, le: boolean): void {
    if (le) this.bytes.push(v & 0xff, (v >>> 8) & 0xff);
    else this.bytes.push((v >>> 8) & 0xff, v & 0xff);
  }
  u32(v: number, le: boolean): void {
    if (le) {
      this.u16(v & 0xffff, true);
      this.u16((v >>> 16) & 0xffff, true);
    } else {
      this.u16((v >>> 16) & 0xffff, false);
      this.u16(v & 0xffff, false);
    }
  }
  raw(data: ArrayLike<number>): void {
    for (let i = 0; i < data.length; i++) this.bytes.push(data[i] ?? 0);
  }
}

function textBytes(text: string, vr: string): number[] {
  const bytes = [...text].map((c) => c.charCodeAt(0) & 0xff);
  if (bytes.length % 2 === 1) bytes.push(vr === 'UI' ? 0 : 0x20);
  return bytes;
}

function writeElements(out: Out, elements: TestItem, explicit: boolean, le: boolean, undefinedItems: boolean): void {
  for (const [tag, value, vrOverride] of elements) {
    const vr = vrOverride ?? lookupTag(tag)?.vr ?? 'UN';
    out.u16(tag >>> 16, le);
    out.u16(tag & 0xffff, le);
    const writeLength = (length: number): void => {
      if (!explicit) out.u32(length, le);
      else {
        out.raw([vr.charCodeAt(0), vr.charCodeAt(1)]);
        if (LONG.has(vr)) {
          out.u16(0, le);
          out.u32(length, le);
        } else out.u16(length, le);
      }
    };
    if (Array.isArray(value) || (typeof value === 'object' && 'items' in value)) {
      const items = Array.isArray(value) ? value : value.items;
      const undefinedSeq = !Array.isArray(value);
      const body = new Out();
      for (const item of items) {
        const inner = new Out();
        writeElements(inner, item, explicit && vr !== 'UN', vr === 'UN' ? true : le, undefinedItems);
        body.u16(0xfffe, le);
        body.u16(0xe000, le);
        body.u32(undefinedItems ? 0xffffffff : inner.bytes.length, le);
        body.raw(inner.bytes);
        if (undefinedItems) {
          body.u16(0xfffe, le);
          body.u16(0xe00d, le);
          body.u32(0, le);
        }
      }
      if (undefinedSeq) {
        body.u16(0xfffe, le);
        body.u16(0xe0dd, le);
        body.u32(0, le);
      }
      writeLength(undefinedSeq ? 0xffffffff : body.bytes.length);
      out.raw(body.bytes);
    } else if (typeof value === 'object' && 'fragments' in value) {
      writeLength(0xffffffff);
      for (const fragment of [new Uint8Array(0), ...value.fragments]) {
        out.u16(0xfffe, le);
        out.u16(0xe000, le);
        out.u32(fragment.length, le);
        out.raw(fragment);
      }
      out.u16(0xfffe, le);
      out.u16(0xe0dd, le);
      out.u32(0, le);
    } else {
      const bytes = typeof value === 'string' ? textBytes(value, vr) : [...value];
      writeLength(bytes.length);
      out.raw(bytes);
    }
  }
}

/** A Part 10 file: preamble, DICM, file meta (explicit VR little endian), then the data set in the chosen encoding. */
export function buildDicom(dataset: TestItem, options: BuildOptions = {}): Uint8Array {
  const explicit = options.explicitVr ?? true;
  const le = options.littleEndian ?? true;
  const ts = options.transferSyntaxUID ?? (explicit ? (le ? '1.2.840.10008.1.2.1' : '1.2.840.10008.1.2.2') : '1.2.840.10008.1.2');
  const sop = dataset.find(([tag]) => tag === 0x00080018)?.[1];
  const sopClass = dataset.find(([tag]) => tag === 0x00080016)?.[1];
  const metaBody = new Out();
  writeElements(
    metaBody,
    [
      [0x00020001, Uint8Array.of(0, 1), 'OB'],
      [0x00020002, typeof sopClass === 'string' ? sopClass : '1.2.840.10008.5.1.4.1.1.2', 'UI'],
      [0x00020003, typeof sop === 'string' ? sop : '1.2.3.4', 'UI'],
      [0x00020010, ts, 'UI'],
    ],
    true,
    true,
    false,
  );
  const out = new Out();
  if (options.preamble ?? true) {
    out.raw(new Uint8Array(128));
    out.raw([0x44, 0x49, 0x43, 0x4d]);
  }
  writeElements(out, [[0x00020000, Uint8Array.of(metaBody.bytes.length & 0xff, (metaBody.bytes.length >> 8) & 0xff, 0, 0), 'UL']], true, true, false);
  out.raw(metaBody.bytes);
  writeElements(out, dataset, explicit, le, options.undefinedItems ?? false);
  return Uint8Array.from(out.bytes);
}

/** US value bytes. */
export const us = (value: number, littleEndian = true): Uint8Array => (littleEndian ? Uint8Array.of(value & 0xff, value >> 8) : Uint8Array.of(value >> 8, value & 0xff));

export interface ImageOptions {
  readonly rows?: number;
  readonly columns?: number;
  readonly samples?: number;
  readonly photometric?: string;
  readonly bitsAllocated?: number;
  readonly bitsStored?: number;
  readonly highBit?: number;
  readonly frames?: string;
  readonly littleEndian?: boolean;
}

/** The Image Pixel module attributes (group 0028, in tag order) of a small test image: 4 × 4, 8 bits, monochrome by default. */
export function imageAttributes(options: ImageOptions = {}): TestItem {
  const bitsAllocated = options.bitsAllocated ?? 8;
  const bitsStored = options.bitsStored ?? bitsAllocated;
  const le = options.littleEndian ?? true;
  const attributes: TestItem = [
    [0x00280002, us(options.samples ?? 1, le), 'US'],
    [0x00280004, options.photometric ?? 'MONOCHROME2'],
    [0x00280010, us(options.rows ?? 4, le), 'US'],
    [0x00280011, us(options.columns ?? 4, le), 'US'],
    [0x00280100, us(bitsAllocated, le), 'US'],
    [0x00280101, us(bitsStored, le), 'US'],
    [0x00280102, us(options.highBit ?? bitsStored - 1, le), 'US'],
    [0x00280103, us(0, le), 'US'],
  ];
  if (options.frames !== undefined) attributes.splice(2, 0, [0x00280008, options.frames, 'IS']);
  return attributes;
}
