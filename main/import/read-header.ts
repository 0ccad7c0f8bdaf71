import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { WindowedSource } from '../../shared/dicom/byte-source.js';
import type { DicomElement, DicomFile } from '../../shared/dicom/model.js';
import { parseDicom } from '../../shared/dicom/parser.js';
import { tagOfKeyword } from '../../shared/dicom/dictionary.js';
import { decodeText } from '../../shared/dicom/values.js';

/** A file's header only (everything before the pixel data), read through a small window. */
export function readHeader(path: string): { file: DicomFile; size: number } {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const source = new WindowedSource(size, (position, target) => readSync(fd, target, 0, target.length, position));
    const file = parseDicom(source, {
      inflate: (bytes) => new Uint8Array(inflateRawSync(bytes)),
      stopAtTag: 0x7fe00008,
    });
    return { file, size };
  } finally {
    closeSync(fd);
  }
}

function isUtf8(file: DicomFile): boolean {
  const charset = file.dataset.find((element) => element.tag === 0x00080005);
  return charset?.value !== undefined && decodeText(charset.value).includes('ISO_IR 192');
}

/** The text of a top-level attribute (first value for multi-valued ones joined by `\`), or '' when absent. */
export function textOf(file: DicomFile, keyword: string): string {
  const tag = tagOfKeyword(keyword);
  const element: DicomElement | undefined = [...file.meta, ...file.dataset].find((e) => e.tag === tag);
  if (element?.value === undefined || element.vr === 'SQ') return '';
  return decodeText(element.value, isUtf8(file)).trim();
}
