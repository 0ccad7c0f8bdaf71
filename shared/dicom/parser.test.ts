import { describe, expect, it } from 'vitest';
import { isAppError } from '../errors/app-error.js';
import { MemorySource, WindowedSource } from './byte-source.js';
import { parseDicom } from './parser.js';
import { rawOutElements, segmentsToBytes, serializeDataset } from './writer.js';
import { buildDicom, type TestItem } from './testing/build-dicom.js';

const pixels = new Uint8Array(200_000).map((_, i) => i & 0xff);
const dataset: TestItem = [
  [0x00080016, '1.2.840.10008.5.1.4.1.1.2'],
  [0x00080018, '1.2.3.4.5'],
  [0x00081115, [[[0x0020000e, '1.2.3.9'], [0x00081140, [[[0x00081155, '1.2.3.10']]]]]]],
  [0x00100010, 'Doe^Jane'],
  [0x00100020, 'ID12345'],
  [0x00291010, Uint8Array.of(1, 2, 3, 4), 'OB'],
  [0x7fe00010, pixels, 'OW'],
];

function roundTrip(bytes: Uint8Array): { same: boolean; file: ReturnType<typeof parseDicom> } {
  const source = new MemorySource(bytes);
  const file = parseDicom(source);
  const out = segmentsToBytes(source, serializeDataset(source, rawOutElements(file), file.transferSyntax));
  const original = bytes.subarray(file.datasetOffset);
  return { same: out.length === original.length && out.every((byte, i) => byte === original[i]), file };
}

function expectMalformed(bytes: Uint8Array, pattern: RegExp): void {
  try {
    parseDicom(new MemorySource(bytes));
  } catch (error) {
    expect(isAppError(error)).toBe(true);
    if (!isAppError(error)) return;
    expect(error.code).toBe('DICOM_MALFORMED');
    expect(`${error.details[0]?.path}: ${error.details[0]?.issue}`).toMatch(pattern);
    return;
  }
  throw new Error('expected a DICOM_MALFORMED error');
}

describe('parseDicom and serializeDataset', () => {
  it.each([
    ['explicit VR little endian', { explicitVr: true, littleEndian: true }],
    ['implicit VR little endian', { explicitVr: false, littleEndian: true }],
    ['explicit VR big endian', { explicitVr: true, littleEndian: false }],
    ['undefined-length items', { undefinedItems: true }],
  ])('re-serialises %s byte for byte', (_name, options) => {
    const { same, file } = roundTrip(buildDicom(dataset, options));
    expect(same).toBe(true);
    const sequence = file.dataset.find((element) => element.tag === 0x00081115);
    expect(sequence?.items?.[0]?.elements.find((element) => element.tag === 0x00081140)?.items?.[0]?.elements[0]?.tag).toBe(0x00081155);
  });

  it('keeps large values such as PixelData as a byte range, never loaded', () => {
    const { file } = roundTrip(buildDicom(dataset));
    const pixel = file.dataset.find((element) => element.tag === 0x7fe00010);
    expect(pixel?.value).toBeUndefined();
    expect(pixel?.valueLength).toBe(pixels.length);
    const segments = serializeDataset(file.datasetSource, rawOutElements(file), file.transferSyntax);
    expect(segments.some((segment) => !(segment instanceof Uint8Array) && segment.length >= pixels.length)).toBe(true);
  });

  it('reads through a small window without the whole file in memory', () => {
    const bytes = buildDicom(dataset);
    let maxRead = 0;
    const source = new WindowedSource(bytes.length, (position, target) => {
      const chunk = bytes.subarray(position, position + target.length);
      target.set(chunk);
      maxRead = Math.max(maxRead, chunk.length);
      return chunk.length;
    }, 4096);
    const file = parseDicom(source);
    expect(file.dataset.length).toBe(dataset.length);
    expect(maxRead).toBeLessThanOrEqual(4096);
  });

  it('parses encapsulated pixel data fragments and undefined-length sequences', () => {
    const bytes = buildDicom(
      [
        [0x00080016, '1.2.840.10008.5.1.4.1.1.2'],
        [0x00081115, { undefinedLength: true, items: [[[0x0020000e, '1.2.3']]] }],
        [0x7fe00010, { fragments: [Uint8Array.of(1, 2, 3, 4), Uint8Array.of(5, 6)] }, 'OB'],
      ],
      { transferSyntaxUID: '1.2.840.10008.1.2.4.50', undefinedItems: true },
    );
    const { same, file } = roundTrip(bytes);
    expect(same).toBe(true);
    expect(file.dataset.find((element) => element.tag === 0x7fe00010)?.fragments?.map((f) => f.length)).toEqual([0, 4, 2]);
  });

  it('parses a UN-encoded sequence (implicit VR inside) as items', () => {
    const bytes = buildDicom([[0x00080016, '1.2.840.10008.5.1.4.1.1.2'], [0x00081115, [[[0x0020000e, '1.2.3']]], 'UN']]);
    const { same, file } = roundTrip(bytes);
    expect(same).toBe(true);
    expect(file.dataset[1]?.items?.[0]?.elements[0]?.tag).toBe(0x0020000e);
  });

  it('reports malformed input with the file offset and the tag', () => {
    const good = buildDicom(dataset);
    expectMalformed(new Uint8Array(0), /offset 0: the file is empty/);
    expectMalformed(good.subarray(0, good.length - 100), /tag \(7FE0,0010\): the value length .* runs past the end of the file/);
    const badVr = buildDicom([[0x00100010, 'Doe', 'PN']]);
    const at = badVr.length - 8 - 4 + 4; // VR bytes of the last element
    badVr[at] = 0x3f;
    expectMalformed(badVr, /tag \(0010,0010\): invalid value representation/);
    const odd = buildDicom([[0x00100020, Uint8Array.of(0x41, 0x42, 0x43), 'LO']]);
    expectMalformed(odd, /tag \(0010,0020\): odd value length/);
    expectMalformed(Uint8Array.from({ length: 300 }, (_, i) => (i * 7 + 3) & 0xff), /offset 0: no DICM prefix/);
  });
});
