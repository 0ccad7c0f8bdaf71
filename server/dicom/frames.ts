import { DicomParseError } from './part10.js';

/** Reads `length` bytes at `offset` of the stored instance (fewer at the end of the file). */
export type ReadAt = (offset: number, length: number) => Promise<Buffer>;

interface Fragment {
  /** Offset of the fragment's item tag. */
  item: number;
  /** Offset and length of its value. */
  offset: number;
  length: number;
  /** The value begins with a codestream start marker (JPEG SOI, JPEG 2000 SOC, JP2 signature). */
  startsFrame: boolean;
}

const ITEM = 0xfffee000;
const SEQUENCE_DELIMITER = 0xfffee0dd;

/**
 * Locates the frames of encapsulated pixel data starting at `offset` (the Basic Offset Table item). Frames are
 * found from the offset table, one fragment per frame, or codestream start markers, in that order.
 */
export async function encapsulatedFrames(read: ReadAt, offset: number, fileSize: number, numberOfFrames: number): Promise<[number, number][][]> {
  const fragments: Fragment[] = [];
  let pos = offset;
  let bot: number[] = [];
  let first = true;
  for (;;) {
    if (pos + 8 > fileSize) throw new DicomParseError('the encapsulated pixel data is truncated');
    const head = await read(pos, 10);
    if (head.length < 8) throw new DicomParseError('the encapsulated pixel data is truncated');
    const tag = ((head.readUInt16LE(0) << 16) | head.readUInt16LE(2)) >>> 0;
    const length = head.readUInt32LE(4);
    if (tag === SEQUENCE_DELIMITER) break;
    if (tag !== ITEM || length === 0xffffffff) throw new DicomParseError('the encapsulated pixel data is malformed');
    if (pos + 8 + length > fileSize) throw new DicomParseError('the encapsulated pixel data is truncated');
    if (first) {
      if (length > 0) {
        const table = await read(pos + 8, length);
        bot = [];
        for (let i = 0; i + 4 <= table.length; i += 4) bot.push(table.readUInt32LE(i));
      }
      first = false;
    } else {
      const marker = head.length >= 10 ? head.readUInt16BE(8) : 0;
      fragments.push({ item: pos, offset: pos + 8, length, startsFrame: marker === 0xffd8 || marker === 0xff4f || marker === 0x0000 });
    }
    pos += 8 + length;
  }
  if (fragments.length === 0) return [];
  const frames = Math.max(1, numberOfFrames);
  const range = (f: Fragment): [number, number] => [f.offset, f.length];
  if (frames === 1) return [fragments.map(range)];
  const base = fragments[0]?.item ?? 0;
  if (bot.length === frames && bot[0] === 0) {
    const out: [number, number][][] = bot.map(() => []);
    for (const fragment of fragments) {
      const relative = fragment.item - base;
      let index = 0;
      while (index + 1 < bot.length && (bot[index + 1] ?? Infinity) <= relative) index += 1;
      out[index]?.push(range(fragment));
    }
    if (out.every((frame) => frame.length > 0)) return out;
  }
  if (fragments.length === frames) return fragments.map((fragment) => [range(fragment)]);
  const out: [number, number][][] = [];
  for (const fragment of fragments) {
    if (fragment.startsFrame || out.length === 0) out.push([]);
    out[out.length - 1]?.push(range(fragment));
  }
  return out.length === frames ? out : [];
}

/** Frames of native (uncompressed) pixel data: consecutive, each rows × columns × samples × bits / 8 bytes. */
export function nativeFrames(
  offset: number,
  length: number,
  attrs: { rows: number; columns: number; samplesPerPixel: number; bitsAllocated: number; numberOfFrames: number },
): [number, number][][] {
  const bits = attrs.rows * attrs.columns * attrs.samplesPerPixel * attrs.bitsAllocated;
  const frames = Math.max(1, attrs.numberOfFrames);
  if (bits <= 0) return [];
  if (bits % 8 !== 0 && frames > 1) return [];
  const size = Math.ceil(bits / 8);
  const out: [number, number][][] = [];
  for (let i = 0; i < frames; i += 1) {
    if ((i + 1) * size > length) break;
    out.push([[offset + i * size, size]]);
  }
  return out;
}
