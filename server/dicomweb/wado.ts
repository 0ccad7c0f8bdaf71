import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../shared/errors/app-error.js';
import { ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian, inflatedDataset } from '../dicom/part10.js';
import type { InstanceRow, Scope } from '../storage/dicom-index.js';
import { acceptsDicomJson, notAcceptable, parseAccept, transferSyntaxOf } from './accept.js';
import { bulkMarker } from './instance-record.js';
import { ReadLease } from './read-buffers.js';
import type { DicomwebServices } from './services.js';
import { dicomwebBase } from './urls.js';

const mediaTypeOfSyntax: Record<string, string> = {
  '1.2.840.10008.1.2.4.50': 'image/jpeg',
  '1.2.840.10008.1.2.4.51': 'image/jpeg',
  '1.2.840.10008.1.2.4.57': 'image/jpeg',
  '1.2.840.10008.1.2.4.70': 'image/jpeg',
  '1.2.840.10008.1.2.4.80': 'image/jls',
  '1.2.840.10008.1.2.4.81': 'image/jls',
  '1.2.840.10008.1.2.4.90': 'image/jp2',
  '1.2.840.10008.1.2.4.91': 'image/jp2',
  '1.2.840.10008.1.2.4.92': 'image/jpx',
  '1.2.840.10008.1.2.4.93': 'image/jpx',
  '1.2.840.10008.1.2.4.201': 'image/jphc',
  '1.2.840.10008.1.2.4.202': 'image/jphc',
  '1.2.840.10008.1.2.4.203': 'image/jphc',
  '1.2.840.10008.1.2.5': 'image/dicom-rle',
};

function etagOf(rows: readonly { blobKey: string }[], salt: string): string {
  const hash = createHash('sha1').update(salt);
  for (const row of rows) hash.update(row.blobKey).update('\n');
  return `"${hash.digest('base64url')}"`;
}

/** Answers 304 when the client's ETag matches; sets the ETag otherwise. */
function notModified(request: FastifyRequest, reply: FastifyReply, etag: string): boolean {
  void reply.header('etag', etag);
  const match = request.headers['if-none-match'];
  if (match !== undefined && match.split(',').some((value) => value.trim() === etag || value.trim() === '*')) {
    void reply.status(304).send();
    return true;
  }
  return false;
}

function missing(scope: Scope): AppError {
  const what = scope.instance !== undefined ? 'instance' : scope.series !== undefined ? 'series' : 'study';
  return new AppError('NOT_FOUND', [{ path: what, issue: `no such ${what}` }]);
}

const CRLF = Buffer.from('\r\n');

function boundary(): string {
  return `paradim-${randomBytes(12).toString('hex')}`;
}

/** WADO-RS retrieve of a study, series or instance: Part-10 objects as stored (byte-identical), multipart/related. */
export async function retrieveInstances(services: DicomwebServices, request: FastifyRequest, reply: FastifyReply, scope: Scope): Promise<void> {
  const rows = await services.index.instances(scope);
  if (rows.length === 0) throw missing(scope);
  let single = false;
  let chosen = false;
  for (const range of parseAccept(request.headers.accept)) {
    if (range.type === 'multipart/related' || range.type === '*/*' || range.type === 'multipart/*') {
      const type = (range.params.type ?? 'application/dicom').toLowerCase();
      if (range.type === 'multipart/related' && type !== 'application/dicom') continue;
      const syntax = transferSyntaxOf(range);
      if (syntax !== undefined && syntax !== '*' && rows.some((row) => row.transferSyntaxUID !== syntax)) continue;
      chosen = true;
      break;
    }
    if (range.type === 'application/dicom' && rows.length === 1) {
      const syntax = transferSyntaxOf(range);
      if (syntax !== undefined && syntax !== '*' && rows[0]?.transferSyntaxUID !== syntax) continue;
      chosen = true;
      single = true;
      break;
    }
  }
  if (!chosen) throw notAcceptable('instances are available as multipart/related; type="application/dicom" in their stored transfer syntax');
  if (notModified(request, reply, etagOf(rows, 'dicom'))) return;
  if (single) {
    const row = rows[0] as InstanceRow;
    void reply
      .header('content-type', `application/dicom; transfer-syntax=${row.transferSyntaxUID}`)
      .header('content-length', row.size)
      .send(await services.blobs.stream(row.blobKey));
    return;
  }
  const mark = boundary();
  const heads = rows.map((row) =>
    Buffer.from(`--${mark}\r\nContent-Type: application/dicom; transfer-syntax=${row.transferSyntaxUID}\r\nContent-Length: ${row.size}\r\n\r\n`),
  );
  const tail = Buffer.from(`--${mark}--\r\n`);
  const length = rows.reduce((sum, row, i) => sum + row.size + (heads[i]?.length ?? 0) + 2, tail.length);
  // Whole instances (or 8 MB pieces of big ones) are read with one call each, the next reads overlapping the send.
  const PIECE = 8 * 1024 * 1024;
  const pieces: { row: number; start: number; end: number }[] = [];
  rows.forEach((row, i) => {
    for (let start = 0; start < row.size || start === 0; start += PIECE) pieces.push({ row: i, start, end: Math.min(row.size, start + PIECE) });
  });
  const blobs = services.blobs;
  // Reads go into pooled buffers, given back when the response is over (see read-buffers.ts).
  const lease = new ReadLease();
  reply.raw.once('close', () => lease.release());
  const readPiece = (k: number): Promise<Buffer> | undefined => {
    const piece = pieces[k];
    const row = piece === undefined ? undefined : rows[piece.row];
    if (piece === undefined || row === undefined) return undefined;
    const promise = blobs.read(row.blobKey, piece.start, piece.end, lease.take(piece.end - piece.start));
    lease.track(promise);
    // A client that goes away leaves one read ahead: never an unhandled rejection.
    promise.catch(() => undefined);
    return promise;
  };
  const AHEAD = 3;
  async function* body(): AsyncGenerator<Buffer> {
    const ahead: (Promise<Buffer> | undefined)[] = [];
    for (let k = 0; k < AHEAD; k += 1) ahead.push(readPiece(k));
    for (let k = 0; k < pieces.length; k += 1) {
      const piece = pieces[k] as { row: number; start: number; end: number };
      const data = await (ahead.shift() as Promise<Buffer>);
      ahead.push(readPiece(k + AHEAD));
      if (piece.start === 0) yield heads[piece.row] as Buffer;
      if (data.length !== piece.end - piece.start) throw new Error('a stored instance is shorter than indexed');
      yield data;
      if (piece.end === (rows[piece.row]?.size ?? 0)) yield CRLF;
    }
    yield tail;
  }
  void reply
    .header('content-type', `multipart/related; type="application/dicom"; boundary=${mark}`)
    .header('content-length', length)
    .send(Readable.from(body(), { objectMode: false }));
}

/** WADO-RS metadata: the stored DICOM JSON of each instance, bulk-data URIs rooted at this request's DICOMweb root. */
export async function retrieveMetadata(services: DicomwebServices, request: FastifyRequest, reply: FastifyReply, scope: Scope): Promise<void> {
  if (!acceptsDicomJson(request.headers.accept)) throw notAcceptable('metadata is available as application/dicom+json');
  const rows = await services.index.metadata(scope);
  if (rows.length === 0) throw missing(scope);
  const base = dicomwebBase(request);
  const replacement = `"BulkDataURI":"${base}/`;
  const etag = etagOf(rows, `metadata:${base}`);
  if (notModified(request, reply, etag)) return;
  const body = `[${rows.map((row) => row.json).join(',').replaceAll(bulkMarker, replacement)}]`;
  void reply.header('content-type', 'application/dicom+json').send(body);
}

interface FrameChoice {
  partType: string;
  syntax: string;
  convert: 'none' | 'swap' | 'inflate' | 'inflate-swap';
  multipart: boolean;
}

function chooseFrameEncoding(accept: string | string[] | undefined, row: InstanceRow, frameCount: number): FrameChoice {
  const stored = row.transferSyntaxUID;
  const pixel = row.pixel;
  const encapsulated = pixel?.encapsulated ?? false;
  const deflated = pixel?.deflated ?? false;
  const bigEndian = stored === ExplicitVRBigEndian;
  // The syntax frames are in without conversion: uncompressed little endian is reported as explicit VR little endian.
  const natural = encapsulated ? stored : bigEndian ? ExplicitVRBigEndian : ExplicitVRLittleEndian;
  const naturalConvert: FrameChoice['convert'] = deflated ? 'inflate' : 'none';
  const media = mediaTypeOfSyntax[stored];
  for (const range of parseAccept(accept)) {
    let type: string;
    let multipart = true;
    if (range.type === 'multipart/related') type = (range.params.type ?? 'application/octet-stream').toLowerCase();
    else if (range.type === '*/*' || range.type === 'multipart/*') type = '*';
    else if (frameCount === 1) {
      type = range.type;
      multipart = false;
    } else continue;
    const syntax = transferSyntaxOf(range);
    if (type === 'application/octet-stream' || type === '*' || type === 'application/*') {
      if (syntax === undefined || syntax === '*' || syntax === natural || syntax === stored) {
        return { partType: 'application/octet-stream', syntax: natural, convert: naturalConvert, multipart };
      }
      if (!encapsulated && (syntax === ExplicitVRLittleEndian || syntax === ImplicitVRLittleEndian)) {
        return { partType: 'application/octet-stream', syntax, convert: bigEndian ? (deflated ? 'inflate-swap' : 'swap') : naturalConvert, multipart };
      }
      continue;
    }
    if (media !== undefined && (type === media || type === 'image/*') && (syntax === undefined || syntax === '*' || syntax === stored)) {
      return { partType: media, syntax: stored, convert: 'none', multipart };
    }
  }
  throw notAcceptable(`the frames are stored as ${encapsulated ? (media ?? 'application/octet-stream') : 'uncompressed data'} and cannot be converted to what was asked`);
}

async function frameBytes(services: DicomwebServices, row: InstanceRow, ranges: [number, number][], convert: FrameChoice['convert'], inflated: () => Promise<Buffer>): Promise<Buffer> {
  let data: Buffer;
  if (convert === 'inflate' || convert === 'inflate-swap') {
    const source = await inflated();
    data = Buffer.concat(ranges.map(([offset, length]) => source.subarray(offset, offset + length)));
  } else if (ranges.length === 1) {
    const [offset, length] = ranges[0] as [number, number];
    data = await services.blobs.read(row.blobKey, offset, offset + length);
  } else {
    data = Buffer.concat(await Promise.all(ranges.map(([offset, length]) => services.blobs.read(row.blobKey, offset, offset + length))));
  }
  if (convert === 'swap' || convert === 'inflate-swap') {
    data = Buffer.from(data);
    const bits = row.pixel?.bitsAllocated ?? 8;
    if (bits === 16 && data.length % 2 === 0) data.swap16();
    else if (bits === 32 && data.length % 4 === 0) data.swap32();
    else if (bits === 64 && data.length % 8 === 0) data.swap64();
  }
  return data;
}

async function sendFrames(services: DicomwebServices, request: FastifyRequest, reply: FastifyReply, row: InstanceRow, numbers: number[]): Promise<void> {
  const frames = row.pixel?.frames ?? [];
  for (const n of numbers) {
    if (n < 1 || n > frames.length) throw new AppError('NOT_FOUND', [{ path: 'frames', issue: `frame ${n} does not exist (the instance has ${frames.length})` }]);
  }
  const choice = chooseFrameEncoding(request.headers.accept, row, numbers.length);
  if (notModified(request, reply, etagOf([row], `frames:${numbers.join(',')}:${choice.partType}:${choice.syntax}`))) return;
  let cache: Buffer | undefined;
  const inflated = async (): Promise<Buffer> => {
    cache ??= inflatedDataset(await services.blobs.read(row.blobKey, 0, row.size));
    return cache;
  };
  const partType = `${choice.partType}; transfer-syntax=${choice.syntax}`;
  if (!choice.multipart) {
    const data = await frameBytes(services, row, frames[(numbers[0] ?? 1) - 1] ?? [], choice.convert, inflated);
    void reply.header('content-type', partType).send(data);
    return;
  }
  const mark = boundary();
  const chunks: Buffer[] = [];
  for (const n of numbers) {
    const data = await frameBytes(services, row, frames[n - 1] ?? [], choice.convert, inflated);
    chunks.push(Buffer.from(`--${mark}\r\nContent-Type: ${partType}\r\nContent-Length: ${data.length}\r\n\r\n`), data, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${mark}--\r\n`));
  void reply
    .header('content-type', `multipart/related; type="${choice.partType}"; transfer-syntax=${choice.syntax}; boundary=${mark}`)
    .send(Buffer.concat(chunks));
}

async function oneInstance(services: DicomwebServices, scope: Scope): Promise<InstanceRow> {
  const rows = await services.index.instances(scope);
  const row = rows[0];
  if (row === undefined) throw missing(scope);
  return row;
}

/** WADO-RS frames: `/frames/1,3,5` in the stored syntax (or uncompressed little endian for uncompressed data). */
export async function retrieveFrames(services: DicomwebServices, request: FastifyRequest, reply: FastifyReply, scope: Scope, list: string): Promise<void> {
  const numbers = list.split(',').map((item) => Number(item.trim()));
  if (numbers.length === 0 || numbers.length > 10_000 || numbers.some((n) => !Number.isSafeInteger(n) || n < 1)) {
    throw new AppError('INVALID_INPUT', [{ path: 'frames', issue: 'must be a comma-separated list of frame numbers starting at 1' }]);
  }
  const row = await oneInstance(services, scope);
  if (row.pixel === null || row.pixel.frames.length === 0) throw new AppError('NOT_FOUND', [{ path: 'frames', issue: 'the instance has no frames this server can locate' }]);
  await sendFrames(services, request, reply, row, numbers);
}

/** WADO-RS bulk data: the value of one bulk element named in the metadata; `7fe00010` is the pixel data, frame by frame. */
export async function retrieveBulkData(services: DicomwebServices, request: FastifyRequest, reply: FastifyReply, scope: Scope, reference: string): Promise<void> {
  const row = await oneInstance(services, scope);
  if (reference.toLowerCase() === '7fe00010') {
    if (row.pixel === null || row.pixel.frames.length === 0) throw new AppError('NOT_FOUND', [{ path: 'bulkdata', issue: 'the instance has no pixel data' }]);
    await sendFrames(services, request, reply, row, row.pixel.frames.map((_frame, i) => i + 1));
    return;
  }
  const match = /^(\d{1,15})-(\d{1,15})$/.exec(reference);
  const [metadata] = await services.index.metadata(scope);
  if (match === null || metadata === undefined || !metadata.json.includes(`/bulkdata/${reference}"`)) {
    throw new AppError('NOT_FOUND', [{ path: 'bulkdata', issue: 'no such bulk data in this instance' }]);
  }
  const offset = Number(match[1]);
  const length = Number(match[2]);
  const deflated = row.transferSyntaxUID === '1.2.840.10008.1.2.1.99';
  const data = deflated
    ? inflatedDataset(await services.blobs.read(row.blobKey, 0, row.size)).subarray(offset, offset + length)
    : await services.blobs.read(row.blobKey, offset, offset + length);
  let multipart: boolean | undefined;
  for (const range of parseAccept(request.headers.accept)) {
    if (range.type === 'multipart/related' && (range.params.type ?? 'application/octet-stream') === 'application/octet-stream') multipart = true;
    else if (range.type === '*/*' || range.type === 'multipart/*') multipart = true;
    else if (range.type === 'application/octet-stream') multipart = false;
    if (multipart !== undefined) break;
  }
  if (multipart === undefined) throw notAcceptable('bulk data is available as application/octet-stream');
  if (notModified(request, reply, etagOf([row], `bulk:${reference}`))) return;
  if (!multipart) {
    void reply.header('content-type', 'application/octet-stream').send(data);
    return;
  }
  const mark = boundary();
  void reply
    .header('content-type', `multipart/related; type="application/octet-stream"; boundary=${mark}`)
    .send(Buffer.concat([Buffer.from(`--${mark}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${data.length}\r\n\r\n`), data, Buffer.from(`\r\n--${mark}--\r\n`)]));
}

/** Deletes a study, series or instance: un-indexed in one transaction, then its blobs removed (orphans are repaired at start). */
export async function deleteScope(services: DicomwebServices, request: FastifyRequest, reply: FastifyReply, scope: Scope): Promise<void> {
  const keys = await services.index.delete(scope);
  if (keys.length === 0) throw missing(scope);
  await services.blobs.delete(keys).catch((error: unknown) => request.log.warn({ err: error }, 'blobs not deleted; startup repair will remove them'));
  void reply.status(204).send();
}
