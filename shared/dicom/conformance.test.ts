import { describe, expect, it } from 'vitest';
import { isAppError } from '../errors/app-error.js';
import { MemorySource } from './byte-source.js';
import { checkConformance, findConformanceIssues, uidProblem } from './conformance.js';
import { parseDicom } from './parser.js';
import { buildDicom, imageAttributes, type BuildOptions, type ImageOptions, type TestItem, type TestValue } from './testing/build-dicom.js';

const POSITIONED = /^offset \d+(, tag \([0-9A-F]{4},[0-9A-F]{4}\))?: \w/;
const SC = '1.2.840.10008.5.1.4.1.1.7';
const CT = '1.2.840.10008.5.1.4.1.1.2';

function identity(sopClass = SC): TestItem {
  return [
    [0x00080016, sopClass],
    [0x00080018, '1.2.826.0.1.3680043.10.1.1'],
    [0x0020000d, '1.2.826.0.1.3680043.10.1.2'],
    [0x0020000e, '1.2.826.0.1.3680043.10.1.3'],
  ];
}

function image(pixelData: TestValue, options: ImageOptions = {}, build: BuildOptions = {}, sopClass = SC): Uint8Array {
  return buildDicom([...identity(sopClass), ...imageAttributes(options), [0x7fe00010, pixelData, 'OB']], build);
}

function issuesOf(bytes: Uint8Array): string[] {
  return findConformanceIssues(parseDicom(new MemorySource(bytes))).map((issue) => issue.issue);
}

function expectIssue(bytes: Uint8Array, pattern: RegExp): void {
  const issues = issuesOf(bytes);
  expect(issues.some((issue) => pattern.test(issue)), issues.join(' | ') || '(no issue)').toBe(true);
  // And checkConformance throws it as a positioned DICOM_MALFORMED error.
  try {
    checkConformance(parseDicom(new MemorySource(bytes)));
  } catch (error) {
    expect(isAppError(error)).toBe(true);
    if (!isAppError(error)) return;
    expect(error.code).toBe('DICOM_MALFORMED');
    for (const detail of error.details) expect(`${detail.path}: ${detail.issue}`).toMatch(POSITIONED);
    return;
  }
  throw new Error('expected checkConformance to throw');
}

function expectConformant(bytes: Uint8Array): void {
  expect(issuesOf(bytes)).toEqual([]);
  expect(() => checkConformance(parseDicom(new MemorySource(bytes)))).not.toThrow();
}

function indexOf(bytes: Uint8Array, text: string, from = 0): number {
  const needle = [...text].map((c) => c.charCodeAt(0));
  outer: for (let i = from; i <= bytes.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** The data set alone, without preamble and file meta (as legacy files and network data sets written to disk are). */
function withoutFileMeta(part10: Uint8Array): Uint8Array {
  return part10.subarray(parseDicom(new MemorySource(part10)).datasetOffset);
}

/** A JPEG (T.81) or JPEG-LS (T.87) stream with the given frame and scan header fields. */
function jpeg(options: { sof?: number; precision?: number; rows: number; columns: number; components: number; adobeTransform?: number; ss?: number; se?: number; soi?: boolean }): Uint8Array {
  const { sof = 0xc0, precision = 8, rows, columns, components } = options;
  const bytes: number[] = options.soi === false ? [] : [0xff, 0xd8];
  if (options.adobeTransform !== undefined) bytes.push(0xff, 0xee, 0, 14, ...[...'Adobe'].map((c) => c.charCodeAt(0)), 0, 100, 0, 0, 0, 0, options.adobeTransform);
  bytes.push(0xff, sof, 0, 8 + 3 * components, precision, rows >> 8, rows & 0xff, columns >> 8, columns & 0xff, components);
  for (let c = 0; c < components; c++) bytes.push(c + 1, 0x11, 0);
  bytes.push(0xff, 0xda, 0, 6 + 2 * components, components);
  for (let c = 0; c < components; c++) bytes.push(c + 1, 0);
  bytes.push(options.ss ?? (sof === 0xc3 ? 1 : 0), options.se ?? (sof === 0xc3 ? 0 : 63), 0);
  bytes.push(0x12, 0x34, 0x56, 0xff, 0xd9);
  if (bytes.length % 2 === 1) bytes.push(0);
  return Uint8Array.from(bytes);
}

/** A JPEG 2000 codestream: SOC, SIZ (ISO/IEC 15444-1 A.5.1), EOC. */
function j2k(options: { rows: number; columns: number; components: number; precision?: number; soc?: boolean }): Uint8Array {
  const out: number[] = options.soc === false ? [0x00, 0x00] : [0xff, 0x4f];
  const u32 = (v: number): number[] => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
  out.push(0xff, 0x51, 0, 38 + 3 * options.components, 0, 0, ...u32(options.columns), ...u32(options.rows), ...u32(0), ...u32(0));
  out.push(...u32(options.columns), ...u32(options.rows), ...u32(0), ...u32(0), 0, options.components);
  for (let c = 0; c < options.components; c++) out.push((options.precision ?? 8) - 1, 1, 1);
  out.push(0xff, 0xd9);
  if (out.length % 2 === 1) out.push(0);
  return Uint8Array.from(out);
}

/** An RLE frame (PS3.5 G.5): 64-byte header then the segments. */
function rle(segments: number, length = 64 + 2 * segments): Uint8Array {
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, segments, true);
  for (let s = 0; s < segments; s++) view.setUint32(4 + 4 * s, 64 + 2 * s, true);
  return bytes;
}

describe('uidProblem (PS3.5 9.1)', () => {
  it('accepts well-formed UIDs and names what is wrong with others', () => {
    expect(uidProblem('1.2.840.10008.5.1.4.1.1.2')).toBeUndefined();
    expect(uidProblem('2.25.0')).toBeUndefined();
    expect(uidProblem('dccc9599087131742838cc1162a630fe')).toMatch(/characters other than digits/);
    expect(uidProblem('1.2..3')).toMatch(/empty component/);
    expect(uidProblem('1.2.03')).toBeUndefined();
    expect(uidProblem(`1.${'2'.repeat(70)}`)).toMatch(/at most 64/);
  });
});

describe('checkConformance', () => {
  it('passes valid files: native, implicit VR, big endian, header-only images and non-image objects', () => {
    expectConformant(image(new Uint8Array(16)));
    expectConformant(image(new Uint8Array(16 * 2 * 3), { frames: '3', bitsAllocated: 16, bitsStored: 12 }, { explicitVr: false }));
    expectConformant(image(new Uint8Array(16 * 2), { bitsAllocated: 16, littleEndian: false }, { littleEndian: false }));
    // Pixel data longer than needed (padding) is tolerated; a single-bit image packs 8 pixels a byte.
    expectConformant(image(new Uint8Array(18)));
    expectConformant(image(new Uint8Array(2), { bitsAllocated: 1 }));
    // YBR_FULL_422 native data has two samples per pixel.
    expectConformant(image(new Uint8Array(32), { samples: 3, photometric: 'YBR_FULL_422' }));
    // An image object whose pixel data was left out, but that still describes its image.
    expectConformant(buildDicom([...identity(CT), ...imageAttributes()]));
    // Not an image: no pixel module needed. A data set fragment without SOP identity is not held to an IOD.
    expectConformant(buildDicom([...identity('1.2.840.10008.5.1.4.1.1.88.33'), [0x0040a040, 'CONTAINER']]));
    expectConformant(buildDicom([[0x00100010, 'Doe^Jane']]));
    // A bare data set (no preamble, no file meta) in the default implicit VR little endian.
    expectConformant(withoutFileMeta(buildDicom([...identity(), ...imageAttributes(), [0x7fe00010, new Uint8Array(16), 'OW']], { explicitVr: false })));
  });

  it('reports problems with an offset and a tag, as the parser does', () => {
    const bytes = buildDicom([[0x00080018, '1.2.3.4']]);
    try {
      checkConformance(parseDicom(new MemorySource(bytes)));
      throw new Error('expected an error');
    } catch (error) {
      if (!isAppError(error)) throw error;
      expect(error.code).toBe('DICOM_MALFORMED');
      expect(error.details[0]?.path).toMatch(/^offset \d+, tag \(0008,0016\)$/);
      expect(`${error.details[0]?.path}: ${error.details[0]?.issue}`).toMatch(POSITIONED);
    }
  });

  describe('Part 10 framing and identity', () => {
    it('rejects a data set without file meta in explicit VR (undeclared transfer syntax)', () => {
      expectIssue(withoutFileMeta(buildDicom([...identity(), [0x00100010, 'Doe^Jane']])), /no file meta information, so its transfer syntax is not declared/);
    });

    it('rejects a Part 10 file whose file meta has no group length', () => {
      const bytes = buildDicom(identity());
      const withoutLength = Uint8Array.from([...bytes.subarray(0, 132), ...bytes.subarray(144)]);
      expectIssue(withoutLength, /does not start with its group length/);
    });

    it('rejects a File Meta Information Version other than 00H 01H', () => {
      const bytes = buildDicom(identity());
      const version = indexOf(bytes, 'OB') + 8; // (0002,0001): VR OB, 2 reserved bytes, 4-byte length, then the value
      expect([bytes[version], bytes[version + 1]]).toEqual([0, 1]);
      bytes[version] = 1;
      bytes[version + 1] = 0;
      expectIssue(bytes, /File Meta Information Version is not 00H 01H/);
    });

    it('rejects a SOP instance without SOP Class UID, and a SOP Class that differs from the file meta', () => {
      expectIssue(buildDicom([[0x00080018, '1.2.3.4'], [0x00100010, 'Doe^Jane']]), /SOP Instance UID but no SOP Class UID/);
      const bytes = buildDicom(identity(CT));
      const at = indexOf(bytes, CT, 132); // the file meta's copy comes first
      bytes[at + CT.length - 1] = '7'.charCodeAt(0);
      expectIssue(bytes, /differs from the Media Storage SOP Class UID/);
    });

    it('rejects invalid UIDs', () => {
      expectIssue(buildDicom([[0x00080016, SC], [0x00080018, '1.2.3.4'], [0x0020000d, '05fa52f0e599f17b8186ff18fcdf2b55']]), /Study Instance UID contains characters other than digits/);
    });
  });

  describe('object content', () => {
    it('rejects an encapsulated document without its document', () => {
      const pdf = '1.2.840.10008.5.1.4.1.1.104.1';
      expectIssue(buildDicom([...identity(pdf), [0x00420011, new Uint8Array(0), 'OB'], [0x00420012, 'application/pdf']]), /Encapsulated Document is missing or empty/);
      expectConformant(buildDicom([...identity(pdf), [0x00420011, Uint8Array.of(0x25, 0x50), 'OB'], [0x00420012, 'application/pdf']]));
    });

    it('rejects a sequence stored as UN whose items are not implicit VR little endian', () => {
      // (0008,1115) is a sequence; its item holds (0020,000E) in explicit VR, which PS3.5 6.2.2 does not allow.
      const explicitItem = Uint8Array.of(0xfe, 0xff, 0x00, 0xe0, 14, 0, 0, 0, 0x20, 0x00, 0x0e, 0x00, 0x55, 0x49, 6, 0, 0x31, 0x2e, 0x32, 0x2e, 0x33, 0x00);
      const sr = '1.2.840.10008.5.1.4.1.1.88.33';
      expectIssue(buildDicom([...identity(sr), [0x00081115, explicitItem, 'UN']]), /sequence stored with VR UN is not a valid implicit VR/);
      expectConformant(buildDicom([...identity(sr), [0x00081115, [[[0x0020000e, '1.2.3']]], 'UN']]));
    });

    it('rejects an image object with no image at all', () => {
      expectIssue(buildDicom([...identity('1.2.840.10008.5.1.4.1.1.4'), [0x00100010, 'Doe^Jane']]), /the SOP Class is MR Image, an image object, but there is no image/);
    });

    it('rejects a multi-frame image whose declared frames are missing, unless a Pixel Data Provider URL serves them', () => {
      const enhancedMr = '1.2.840.10008.5.1.4.1.1.4.1';
      expectIssue(buildDicom([...identity(enhancedMr), ...imageAttributes({ frames: '24' })]), /Number of Frames says this Enhanced MR Image has 24 frame\(s\), but there is no Pixel Data/);
      expectConformant(buildDicom([...identity(enhancedMr), ...imageAttributes({ frames: '24' }), [0x00287fe0, 'https://pacs.example/frames']]));
      // Not an image object (MR spectroscopy counts frames of spectroscopy data): not held to it.
      expectConformant(buildDicom([...identity('1.2.840.10008.5.1.4.1.1.4.2'), [0x00280008, '4', 'IS']]));
    });
  });

  describe('Image Pixel module and native pixel data', () => {
    it('rejects native pixel data shorter than the image attributes need', () => {
      expectIssue(image(new Uint8Array(10)), /Pixel Data has 10 bytes but the image attributes need .* = 16/);
      expectIssue(image(new Uint8Array(16 * 2 * 2), { frames: '3', bitsAllocated: 16 }), /Pixel Data has 64 bytes .* = 96/);
      expectIssue(image(new Uint8Array(16), { rows: 46341, columns: 46341, bitsAllocated: 16 }), /46341 × 46341 × 1 × 16 \/ 8 × 1 = 4294976562/);
    });

    it('rejects inconsistent image attributes', () => {
      expectIssue(image(new Uint8Array(16), { frames: '1A' }), /Number of Frames "1A" is not a whole number/);
      expectIssue(image(new Uint8Array(16), { frames: '0' }), /Number of Frames "0" is not a whole number of at least 1/);
      expectIssue(image(new Uint8Array(32), { bitsAllocated: 16, bitsStored: 12, highBit: 15 }), /High Bit \(15\) must be one less than Bits Stored \(12\)/);
      expectIssue(image(new Uint8Array(16), { bitsStored: 12 }), /Bits Stored \(12\) must be between 1 and Bits Allocated \(8\)/);
      expectIssue(image(new Uint8Array(16), { bitsAllocated: 12, bitsStored: 12 }), /Bits Allocated is 12; it must be 1 or a multiple of 8/);
      expectIssue(image(new Uint8Array(48), { samples: 1, photometric: 'RGB' }), /Photometric Interpretation RGB has 3 sample\(s\) per pixel but Samples per Pixel is 1/);
      expectIssue(image(new Uint8Array(16), { rows: 0 }), /zero Rows or Columns/);
      expectIssue(buildDicom([...identity(), [0x00280004, 'MONOCHROME2'], [0x7fe00010, new Uint8Array(16), 'OB']]), /pixel data but no Rows, Columns, Bits Allocated/);
    });

    it('rejects pixel data whose encapsulation does not match the transfer syntax', () => {
      expectIssue(image({ fragments: [new Uint8Array(16)] }), /Pixel Data is encapsulated .* is for uncompressed pixel data/);
      expectIssue(image(new Uint8Array(16), {}, { transferSyntaxUID: '1.2.840.10008.1.2.4.50' }), /is for compressed pixel data, but the Pixel Data is not encapsulated/);
    });
  });

  describe('encapsulated pixel data (PS3.5 A.4)', () => {
    const baseline = { transferSyntaxUID: '1.2.840.10008.1.2.4.50' };

    it('passes consistent JPEG, JPEG-LS, JPEG 2000 and RLE frames', () => {
      expectConformant(image({ fragments: [jpeg({ rows: 4, columns: 4, components: 1 })] }, {}, baseline));
      expectConformant(image({ fragments: [jpeg({ rows: 4, columns: 4, components: 3, adobeTransform: 0 })] }, { samples: 3, photometric: 'RGB' }, baseline));
      expectConformant(image({ fragments: [jpeg({ rows: 4, columns: 4, components: 3, adobeTransform: 1 })] }, { samples: 3, photometric: 'YBR_FULL_422' }, baseline));
      expectConformant(image({ fragments: [jpeg({ sof: 0xc1, precision: 12, rows: 4, columns: 4, components: 1 })] }, { bitsAllocated: 16, bitsStored: 12 }, { transferSyntaxUID: '1.2.840.10008.1.2.4.51' }));
      expectConformant(image({ fragments: [jpeg({ sof: 0xc3, precision: 16, rows: 4, columns: 4, components: 1 })] }, { bitsAllocated: 16, bitsStored: 12 }, { transferSyntaxUID: '1.2.840.10008.1.2.4.70' }));
      expectConformant(image({ fragments: [jpeg({ sof: 0xf7, rows: 4, columns: 4, components: 1 })] }, {}, { transferSyntaxUID: '1.2.840.10008.1.2.4.80' }));
      expectConformant(image({ fragments: [j2k({ rows: 4, columns: 4, components: 1 })] }, {}, { transferSyntaxUID: '1.2.840.10008.1.2.4.90' }));
      expectConformant(image({ fragments: [rle(1)] }, {}, { transferSyntaxUID: '1.2.840.10008.1.2.5' }));
      // Two frames, one fragment each, with a Basic Offset Table pointing at them.
      const frame = jpeg({ rows: 4, columns: 4, components: 1 });
      const table = new Uint8Array(8);
      new DataView(table.buffer).setUint32(4, 8 + frame.length, true);
      const bytes = buildDicom([...identity(), ...imageAttributes({ frames: '2' }), [0x7fe00010, { fragments: [frame, frame] }, 'OB']], baseline);
      const at = indexOf(bytes, '\xfe\xff\x00\xe0\x00\x00\x00\x00'); // the empty Basic Offset Table written by buildDicom
      const withTable = Uint8Array.from([...bytes.subarray(0, at), 0xfe, 0xff, 0x00, 0xe0, 8, 0, 0, 0, ...table, ...bytes.subarray(at + 8)]);
      expectConformant(withTable);
      table[4] = 3; // no longer the start of the second fragment
      expectIssue(Uint8Array.from([...bytes.subarray(0, at), 0xfe, 0xff, 0x00, 0xe0, 8, 0, 0, 0, ...table, ...bytes.subarray(at + 8)]), /Basic Offset Table entry of frame 2/);
    });

    it('rejects missing frames', () => {
      expectIssue(image({ fragments: [] }, {}, baseline), /no fragment after the Basic Offset Table/);
      expectIssue(image({ fragments: [jpeg({ rows: 4, columns: 4, components: 1 })] }, { frames: '2' }, baseline), /2 frames but only 1 fragment/);
    });

    it('rejects a JPEG frame that does not match the data set', () => {
      expectIssue(image({ fragments: [jpeg({ rows: 4, columns: 4, components: 1, soi: false })] }, {}, baseline), /does not start with a JPEG Start of Image marker/);
      expectIssue(image({ fragments: [jpeg({ rows: 8, columns: 4, components: 1 })] }, {}, baseline), /JPEG frame header says the image is 4 × 8 pixels but Columns × Rows is 4 × 4/);
      expectIssue(image({ fragments: [jpeg({ rows: 4, columns: 4, components: 3 })] }, {}, baseline), /JPEG frame header has 3 component\(s\) but Samples per Pixel is 1/);
      expectIssue(image({ fragments: [jpeg({ sof: 0xc1, precision: 12, rows: 4, columns: 4, components: 1 })] }, { bitsAllocated: 16, bitsStored: 12 }, baseline), /process of marker FFC1, which the transfer syntax JPEG Baseline/);
      expectIssue(image({ fragments: [jpeg({ rows: 4, columns: 4, components: 1 })] }, { bitsAllocated: 16, bitsStored: 12 }, baseline), /8-bit samples but Bits Stored is 12/);
      expectIssue(image({ fragments: [jpeg({ rows: 4, columns: 4, components: 3, adobeTransform: 1 })] }, { samples: 3, photometric: 'RGB' }, baseline), /Adobe marker says its colours are YCbCr but the Photometric Interpretation is RGB/);
      expectIssue(image({ fragments: [jpeg({ rows: 4, columns: 4, components: 3, adobeTransform: 0 })] }, { samples: 3, photometric: 'YBR_FULL_422' }, baseline), /Adobe marker says its colours are RGB .* YBR_FULL_422/);
      const lossless = { transferSyntaxUID: '1.2.840.10008.1.2.4.70' };
      expectIssue(image({ fragments: [jpeg({ sof: 0xc3, rows: 4, columns: 4, components: 1, ss: 0 })] }, {}, lossless), /predictor 0, end of selection 0 .* must be 1-7/);
      expectIssue(image({ fragments: [jpeg({ sof: 0xc3, rows: 4, columns: 4, components: 1, ss: 2 })] }, {}, lossless), /uses predictor 2 but the transfer syntax .* requires predictor 1/);
      expectIssue(image({ fragments: [jpeg({ sof: 0xf7, rows: 4, columns: 5, components: 1 })] }, {}, { transferSyntaxUID: '1.2.840.10008.1.2.4.81' }), /JPEG-LS frame header says the image is 5 × 4 pixels/);
    });

    it('rejects a JPEG 2000 codestream that does not match the data set', () => {
      const j2kSyntax = { transferSyntaxUID: '1.2.840.10008.1.2.4.91' };
      expectIssue(image({ fragments: [j2k({ rows: 4, columns: 4, components: 1, soc: false })] }, {}, j2kSyntax), /does not start with a JPEG 2000 codestream/);
      expectIssue(image({ fragments: [j2k({ rows: 1024, columns: 256, components: 1 })] }, {}, j2kSyntax), /SIZ\) says the image is 256 × 1024 pixels but Columns × Rows is 4 × 4/);
      expectIssue(image({ fragments: [j2k({ rows: 4, columns: 4, components: 3 })] }, {}, j2kSyntax), /has 3 component\(s\) but Samples per Pixel is 1/);
      expectIssue(image({ fragments: [j2k({ rows: 4, columns: 4, components: 1, precision: 12 })] }, {}, j2kSyntax), /12-bit samples, more than Bits Allocated \(8\)/);
    });

    it('rejects an RLE frame whose header does not match the data set', () => {
      const rleSyntax = { transferSyntaxUID: '1.2.840.10008.1.2.5' };
      expectIssue(image({ fragments: [rle(2)] }, {}, rleSyntax), /RLE header of the first frame has 2 segment\(s\) but .* needs 1/);
      const bad = rle(1);
      new DataView(bad.buffer).setUint32(4, 200, true);
      expectIssue(image({ fragments: [bad] }, {}, rleSyntax), /invalid offset \(200\) for segment 1/);
    });
  });
});
