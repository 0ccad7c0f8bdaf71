import type { ByteSource } from './byte-source.js';
import type { Encoding, TransferSyntaxInfo } from './transfer-syntax.js';

/** 0xFFFFFFFF: the value (sequence, item or encapsulated pixel data) ends with a delimitation item. */
export const UNDEFINED_LENGTH = 0xffffffff;

/**
 * One parsed data element. Offsets are absolute positions in the data set's source, so an unchanged element is
 * re-serialised by copying its bytes `[headerOffset, end)` exactly.
 */
export interface DicomElement {
  readonly tag: number;
  readonly vr: string;
  readonly encoding: Encoding;
  readonly headerOffset: number;
  /** The declared length (UNDEFINED_LENGTH for undefined-length values). */
  readonly length: number;
  readonly valueOffset: number;
  /** Bytes of the value, without any delimitation item. */
  readonly valueLength: number;
  /** Position right after the element, including a sequence delimitation item. */
  readonly end: number;
  /** The value bytes, when small enough to be loaded (large values are only a byte range). */
  readonly value?: Uint8Array;
  /** Items of a sequence (SQ, or UN that holds an implicit-VR sequence). */
  readonly items?: readonly DicomItem[];
  /** Fragments of encapsulated pixel data (byte ranges of the fragment values). */
  readonly fragments?: readonly { readonly offset: number; readonly length: number }[];
}

export interface DicomItem {
  readonly headerOffset: number;
  readonly length: number;
  readonly end: number;
  readonly encoding: Encoding;
  readonly elements: readonly DicomElement[];
}

export interface DicomFile {
  /** The source of the file meta (and of the data set unless the file was deflated). */
  readonly source: ByteSource;
  /** The source that element offsets of `dataset` refer to (the inflated data set for deflated files). */
  readonly datasetSource: ByteSource;
  readonly hasPreamble: boolean;
  readonly meta: readonly DicomElement[];
  readonly dataset: readonly DicomElement[];
  readonly transferSyntax: TransferSyntaxInfo;
  /** Offset of the first data set element in `datasetSource`. */
  readonly datasetOffset: number;
}
