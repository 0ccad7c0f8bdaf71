import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../shared/errors/app-error.js';
import { DicomParseError, NeedMoreBytes, parsePart10, type ParsedPart10 } from '../dicom/part10.js';
import type { BlobWriter } from '../storage/blob-store.js';
import type { InstanceRecord } from '../storage/dicom-index.js';
import { InstanceRejected, buildInstanceRecord } from './instance-record.js';
import { MultipartError, parseMediaType, readMultipart, type PartHeaders, type PartSink } from './multipart.js';
import type { DicomwebServices } from './services.js';
import { dicomwebBase } from './urls.js';

/** How much of each part is kept in memory to parse its header without re-reading the file. */
const HEAD_BYTES = 4 * 1024 * 1024;

interface Failure {
  code: number;
  reason: string;
  sopClassUID?: string | undefined;
  sopInstanceUID?: string | undefined;
}

type PartResult = { ok: true; record: InstanceRecord } | { ok: false; failure: Failure; blobKey?: string };

class StowPart implements PartSink {
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private size = 0;
  private failed: string | undefined;
  result: Promise<PartResult> | undefined;

  constructor(
    private readonly services: DicomwebServices,
    readonly writer: BlobWriter | undefined,
    private readonly rejectedType: string | undefined,
    private readonly expectedStudy: string | undefined,
  ) {}

  write(chunk: Buffer): Promise<void> | void {
    this.size += chunk.length;
    if (this.writer === undefined) return;
    if (this.headBytes < HEAD_BYTES) {
      const take = Math.min(chunk.length, HEAD_BYTES - this.headBytes);
      this.head.push(take === chunk.length ? chunk : chunk.subarray(0, take));
      this.headBytes += take;
    }
    return this.writer.write(chunk);
  }

  end(): void {
    this.result = this.finish();
  }

  get aborted(): boolean {
    return this.failed !== undefined;
  }

  abort(reason: string): void {
    this.failed = reason;
    this.result = this.finish();
  }

  private async finish(): Promise<PartResult> {
    const writer = this.writer;
    if (writer === undefined) return { ok: false, failure: { code: 0xc000, reason: `the part is ${this.rejectedType ?? 'not application/dicom'}` } };
    if (this.failed !== undefined) {
      await writer.abort();
      return { ok: false, failure: { code: 0xc000, reason: this.failed } };
    }
    let blob: { key: string; size: number };
    try {
      blob = await writer.finish();
    } catch (error) {
      await writer.abort().catch(() => undefined);
      throw error;
    }
    // The header usually fits in the first network chunk: parse that without copying; join the kept chunks only if needed.
    let joined: Buffer | undefined;
    const head = (): Buffer => (joined ??= this.head.length === 1 ? (this.head[0] ?? Buffer.alloc(0)) : Buffer.concat(this.head, this.headBytes));
    const complete = this.headBytes === blob.size;
    const read = async (offset: number, length: number): Promise<Buffer> =>
      complete || offset + length <= this.headBytes
        ? head().subarray(offset, Math.min(offset + length, this.headBytes))
        : this.services.blobs.read(blob.key, offset, Math.min(offset + length, blob.size));
    try {
      let buffer = this.head[0] ?? Buffer.alloc(0);
      let parsed: ParsedPart10 | undefined;
      while (parsed === undefined) {
        try {
          parsed = parsePart10(buffer, blob.size, { bulkThreshold: this.services.options.bulkThreshold });
        } catch (error) {
          if (!(error instanceof NeedMoreBytes)) throw error;
          if (buffer.length < this.headBytes) {
            buffer = head();
            continue;
          }
          const want = Math.min(blob.size, Math.max(error.needed, buffer.length * 2));
          if (want > this.services.options.maxHeaderBytes) throw new DicomParseError('the DICOM header is larger than allowed');
          buffer = await this.services.blobs.read(blob.key, 0, want);
        }
      }
      const record = await buildInstanceRecord(parsed, blob, read, { expectedStudy: this.expectedStudy });
      return { ok: true, record };
    } catch (error) {
      if (error instanceof DicomParseError) return { ok: false, failure: { code: 0xc000, reason: error.reason }, blobKey: blob.key };
      if (error instanceof InstanceRejected) {
        return {
          ok: false,
          failure: { code: error.failureReason, reason: error.reason, sopClassUID: error.sopClassUID, sopInstanceUID: error.sopInstanceUID },
          blobKey: blob.key,
        };
      }
      await this.services.blobs.delete([blob.key]).catch(() => undefined);
      throw error;
    }
  }
}

const dicomTypes = new Set(['application/dicom', 'application/octet-stream']);

/** STOW-RS (PS3.18 10.5): stores each application/dicom part; answers 200, 202 (some failed) or 409 (none stored). */
export async function storeInstances(services: DicomwebServices, request: FastifyRequest, reply: FastifyReply, study?: string): Promise<void> {
  const contentType = request.headers['content-type'] ?? '';
  const media = parseMediaType(contentType);
  if (media.type !== 'multipart/related') {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', [{ path: 'content-type', issue: 'must be multipart/related; type="application/dicom"' }]);
  }
  const partType = (media.params.type ?? 'application/dicom').toLowerCase();
  if (partType !== 'application/dicom') {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', [{ path: 'content-type', issue: `parts of type ${partType} are not supported; send application/dicom` }]);
  }
  const boundary = media.params.boundary;
  if (boundary === undefined || boundary === '' || boundary.length > 200) {
    throw new AppError('INVALID_INPUT', [{ path: 'content-type', issue: 'the multipart boundary is missing or too long' }]);
  }
  const parts: StowPart[] = [];
  const group = randomBytes(1).toString('hex');
  const body = request.body as AsyncIterable<Buffer>;
  let bodyError: string | undefined;
  let complete = true;
  try {
    const outcome = await readMultipart(
      body,
      boundary,
      async (headers: PartHeaders) => {
        const declared = parseMediaType(headers['content-type'] ?? 'application/dicom').type;
        const accepted = dicomTypes.has(declared);
        const part = new StowPart(services, accepted ? await services.blobs.create({ group }) : undefined, accepted ? undefined : declared, study);
        parts.push(part);
        return part;
      },
      { maxHeaderBytes: 16 * 1024, maxParts: 100_000 },
    );
    complete = outcome.complete;
  } catch (error) {
    if (!(error instanceof MultipartError)) {
      // The client went away or the stream failed: clean up what was written.
      bodyError = 'the request body could not be read';
    } else bodyError = error.reason;
    complete = false;
  }
  if (!complete) void reply.header('connection', 'close');
  // The request's blobs share one folder: make its entries durable while the parts' data are still being synced.
  const writers = parts.flatMap((part) => (part.writer === undefined ? [] : [part.writer]));
  const folderSync = Promise.all(writers.map((writer) => writer.created)).then(() => services.blobs.commit(writers.map((writer) => writer.key)));
  folderSync.catch(() => undefined);
  const results = await Promise.all(parts.map((part) => part.result ?? Promise.resolve<PartResult>({ ok: false, failure: { code: 0xc000, reason: bodyError ?? 'incomplete part' } })));
  if (!complete && parts.length > 0 && !(parts[parts.length - 1]?.aborted ?? false)) {
    // The body broke between parts (e.g. part headers too large): that next part failed.
    results.push({ ok: false, failure: { code: 0xc000, reason: bodyError ?? 'the request ended before its closing boundary' } });
  }
  if (parts.length === 0) {
    throw new AppError('INVALID_INPUT', [{ path: 'body', issue: bodyError ?? 'no part is delimited by the boundary given in the content type' }]);
  }

  const stored: InstanceRecord[] = [];
  const failures: { index: number; failure: Failure }[] = [];
  const discard: string[] = [];
  results.forEach((result, index) => {
    if (result.ok) stored.push(result.record);
    else {
      failures.push({ index, failure: result.failure });
      if (result.blobKey !== undefined) discard.push(result.blobKey);
    }
  });
  const referenced: InstanceRecord[] = [];
  if (stored.length > 0) {
    try {
      await folderSync;
      const outcomes = await services.index.store(stored);
      outcomes.forEach((outcome, i) => {
        const record = stored[i];
        if (record === undefined) return;
        if (outcome === 'stored') referenced.push(record);
        else {
          discard.push(record.blobKey);
          if (outcome === 'exists') referenced.push(record);
          else {
            failures.push({
              index: results.findIndex((result) => result.ok && result.record === record),
              failure: { code: 0x0111, reason: 'an instance with this SOP Instance UID exists in another study or series', sopClassUID: record.sopClassUID, sopInstanceUID: record.sopInstanceUID },
            });
          }
        }
      });
    } catch (error) {
      await services.blobs.delete(stored.map((record) => record.blobKey)).catch(() => undefined);
      throw error;
    }
  }
  if (discard.length > 0) await services.blobs.delete(discard).catch((error: unknown) => request.log.warn({ err: error }, 'could not discard blobs; startup repair will'));

  const base = dicomwebBase(request);
  const response: Record<string, unknown> = {};
  const studies = new Set(referenced.map((record) => record.studyUID));
  const onlyStudy = studies.size === 1 ? [...studies][0] : study;
  if (onlyStudy !== undefined) response['00081190'] = { vr: 'UR', Value: [`${base}/studies/${onlyStudy}`] };
  if (referenced.length > 0) {
    response['00081199'] = {
      vr: 'SQ',
      Value: referenced.map((record) => ({
        '00081150': { vr: 'UI', Value: [record.sopClassUID] },
        '00081155': { vr: 'UI', Value: [record.sopInstanceUID] },
        '00081190': { vr: 'UR', Value: [`${base}/studies/${record.studyUID}/series/${record.seriesUID}/instances/${record.sopInstanceUID}`] },
      })),
    };
  }
  if (failures.length > 0) {
    failures.sort((a, b) => a.index - b.index);
    response['00081198'] = {
      vr: 'SQ',
      Value: failures.map(({ failure }) => {
        const item: Record<string, unknown> = { '00081197': { vr: 'US', Value: [failure.code] } };
        if (failure.sopClassUID !== undefined) item['00081150'] = { vr: 'UI', Value: [failure.sopClassUID] };
        if (failure.sopInstanceUID !== undefined) item['00081155'] = { vr: 'UI', Value: [failure.sopInstanceUID] };
        return item;
      }),
    };
    // Plain-language reasons per part (no DICOM values) for people and tests; PS3.18 allows Warning headers.
    void reply.header(
      'warning',
      failures.slice(0, 20).map(({ index, failure }) => `299 paradim "part ${index + 1}: ${failure.reason.replace(/"/g, "'")}"`),
    );
    request.log.info({ parts: results.length, failed: failures.length, reasons: failures.slice(0, 5).map((f) => f.failure.reason) }, 'STOW-RS failures');
  }
  const status = failures.length === 0 ? 200 : referenced.length === 0 ? 409 : 202;
  void reply.status(status).header('content-type', 'application/dicom+json').send(JSON.stringify(response));
}
