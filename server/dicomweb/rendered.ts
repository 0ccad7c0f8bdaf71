import { crc32, deflateSync } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../shared/errors/app-error.js';
import { inflatedDataset, numberValue, type DicomJsonDataset } from '../dicom/part10.js';
import type { Scope } from '../storage/dicom-index.js';
import { notAcceptable, parseAccept } from './accept.js';
import type { DicomwebServices } from './services.js';

const jpegBaseline = new Set(['1.2.840.10008.1.2.4.50']);

/**
 * WADO-RS rendered / thumbnail (PS3.18 9.5), for previews: uncompressed monochrome or 8-bit RGB frames are rendered to
 * PNG (window from the instance, else min/max); a stored baseline JPEG frame is returned as is. Other encodings: 406.
 */
export async function renderInstance(services: DicomwebServices, request: FastifyRequest, reply: FastifyReply, scope: Scope): Promise<void> {
  const [row] = await services.index.instances(scope);
  if (row === undefined) throw new AppError('NOT_FOUND', [{ path: 'instance', issue: 'no such instance' }]);
  const frames = row.pixel?.frames ?? [];
  const frameParam = (request.params as { frames?: string }).frames;
  const frameNumber = frameParam === undefined ? 1 : Number(frameParam.split(',')[0]);
  const ranges = frames[frameNumber - 1];
  if (row.pixel === null || ranges === undefined) throw new AppError('NOT_FOUND', [{ path: 'frames', issue: 'no such frame to render' }]);
  const accepted = parseAccept(request.headers.accept).map((range) => range.type);
  const wants = (type: string): boolean => accepted.includes(type) || accepted.includes('image/*') || accepted.includes('*/*');
  if (jpegBaseline.has(row.transferSyntaxUID) && wants('image/jpeg')) {
    const data = Buffer.concat(await Promise.all(ranges.map(([offset, length]) => services.blobs.read(row.blobKey, offset, offset + length))));
    void reply.header('content-type', 'image/jpeg').send(data);
    return;
  }
  if (row.pixel.encapsulated || !wants('image/png')) throw notAcceptable('this instance can be rendered as image/png (uncompressed) or image/jpeg (baseline JPEG) only');
  const [metadataRow] = await services.index.metadata(scope);
  const ds = JSON.parse(metadataRow?.json ?? '{}') as DicomJsonDataset;
  const rows = numberValue(ds, '00280010') ?? 0;
  const columns = numberValue(ds, '00280011') ?? 0;
  const samples = numberValue(ds, '00280002') ?? 1;
  const bits = row.pixel.bitsAllocated;
  const planar = numberValue(ds, '00280006') ?? 0;
  if (!((samples === 1 && (bits === 8 || bits === 16)) || (samples === 3 && bits === 8)) || rows * columns === 0) {
    throw notAcceptable('this pixel format cannot be rendered');
  }
  let data: Buffer;
  if (row.pixel.deflated) {
    const source = inflatedDataset(await services.blobs.read(row.blobKey, 0, row.size));
    data = Buffer.concat(ranges.map(([offset, length]) => source.subarray(offset, offset + length)));
  } else {
    data = Buffer.concat(await Promise.all(ranges.map(([offset, length]) => services.blobs.read(row.blobKey, offset, offset + length))));
  }
  const pixels = rows * columns;
  const out = Buffer.alloc(pixels * samples);
  if (samples === 3) {
    for (let i = 0; i < pixels; i += 1) {
      for (let c = 0; c < 3; c += 1) out[i * 3 + c] = data[planar === 1 ? c * pixels + i : i * 3 + c] ?? 0;
    }
  } else {
    const signed = (numberValue(ds, '00280103') ?? 0) === 1;
    const slope = numberValue(ds, '00281053') ?? 1;
    const intercept = numberValue(ds, '00281052') ?? 0;
    const big = row.pixel.bigEndian;
    const read = (i: number): number =>
      bits === 8 ? (signed ? data.readInt8(i) : (data[i] ?? 0)) : signed ? (big ? data.readInt16BE(i * 2) : data.readInt16LE(i * 2)) : big ? data.readUInt16BE(i * 2) : data.readUInt16LE(i * 2);
    const values = new Float64Array(pixels);
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < pixels && (i + 1) * (bits / 8) <= data.length; i += 1) {
      const value = read(i) * slope + intercept;
      values[i] = value;
      if (value < min) min = value;
      if (value > max) max = value;
    }
    let center = numberValue(ds, '00281050');
    let width = numberValue(ds, '00281051');
    if (center === undefined || width === undefined || width <= 1) {
      center = (min + max) / 2;
      width = Math.max(1, max - min);
    }
    const low = center - width / 2;
    const invert = ds['00280004']?.Value?.[0] === 'MONOCHROME1';
    for (let i = 0; i < pixels; i += 1) {
      const v = Math.max(0, Math.min(255, Math.round((((values[i] ?? 0) - low) / width) * 255)));
      out[i] = invert ? 255 - v : v;
    }
  }
  void reply.header('content-type', 'image/png').send(encodePng(out, columns, rows, samples === 3 ? 2 : 0));
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** A minimal PNG encoder: 8-bit greyscale (colorType 0) or RGB (2), no filtering. */
export function encodePng(pixels: Buffer, width: number, height: number, colorType: 0 | 2): Buffer {
  const channels = colorType === 2 ? 3 : 1;
  const stride = width * channels;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y += 1) pixels.copy(raw, y * (stride + 1) + 1, y * stride, (y + 1) * stride);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = colorType;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
