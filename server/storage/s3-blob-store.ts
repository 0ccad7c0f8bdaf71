import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import type { BlobStore, BlobWriter } from './blob-store.js';

export interface S3BlobStoreOptions {
  bucket: string;
  /** Key prefix inside the bucket, e.g. `dicom/`. */
  prefix: string;
  client: S3ClientConfig;
  /** Local folder where a part is spooled before its upload. */
  spoolDir: string;
}

const keyPattern = /^[0-9a-f]{2}\/[0-9a-f]{32}$/;

/**
 * Blobs as objects in an S3-compatible bucket. A part is spooled to a local file while it streams in, then uploaded
 * with its length known; the PUT's success is the durability point (S3 acknowledges only stored objects).
 */
export class S3BlobStore implements BlobStore {
  readonly kind = 's3';
  private readonly client: S3Client;

  constructor(private readonly options: S3BlobStoreOptions) {
    // Checksums only when required: stream bodies with the default aws-chunked framing are corrupted by some
    // S3-compatible servers (see environment-recipes §11).
    this.client = new S3Client({ requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', ...options.client });
  }

  private objectKey(key: string): string {
    if (!keyPattern.test(key)) throw new Error('not a blob key');
    return `${this.options.prefix}${key}`;
  }

  async init(): Promise<void> {
    await mkdir(this.options.spoolDir, { recursive: true, mode: 0o700 });
    await this.client.send(new ListObjectsV2Command({ Bucket: this.options.bucket, MaxKeys: 1, Prefix: this.options.prefix }));
  }

  async create(): Promise<BlobWriter> {
    const id = randomBytes(16).toString('hex');
    const key = `${id.slice(0, 2)}/${id}`;
    const spool = join(this.options.spoolDir, `${id}.part`);
    const handle = await open(spool, 'wx', 0o600);
    return new S3BlobWriter(key, spool, handle, async (size) => {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.options.bucket,
          Key: this.objectKey(key),
          Body: createReadStream(spool),
          ContentLength: size,
          ContentType: 'application/dicom',
        }),
      );
    });
  }

  async commit(): Promise<void> {
    // Uploaded objects are durable once the PUT succeeded.
  }

  async stream(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const answer = await this.client.send(
      new GetObjectCommand({
        Bucket: this.options.bucket,
        Key: this.objectKey(key),
        ...(range === undefined ? {} : { Range: `bytes=${range.start}-${range.end - 1}` }),
      }),
    );
    const body = answer.Body;
    if (body instanceof Readable) return body;
    if (body === undefined) return Readable.from([]);
    return Readable.from([Buffer.from(await body.transformToByteArray())]);
  }

  async read(key: string, start: number, end: number): Promise<Buffer> {
    if (end <= start) return Buffer.alloc(0);
    const answer = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: this.objectKey(key), Range: `bytes=${start}-${end - 1}` }));
    return answer.Body === undefined ? Buffer.alloc(0) : Buffer.from(await answer.Body.transformToByteArray());
  }

  async size(key: string): Promise<number> {
    const answer = await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: this.objectKey(key) }));
    return answer.ContentLength ?? 0;
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      await this.client.send(
        new DeleteObjectsCommand({ Bucket: this.options.bucket, Delete: { Objects: batch.map((key) => ({ Key: this.objectKey(key) })), Quiet: true } }),
      );
    }
  }

  async *list(olderThan: number): AsyncIterable<string> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: this.options.prefix, ContinuationToken: token, MaxKeys: 1000 }),
      );
      for (const object of page.Contents ?? []) {
        const key = object.Key?.slice(this.options.prefix.length);
        if (key === undefined || !keyPattern.test(key)) continue;
        if ((object.LastModified?.getTime() ?? 0) < olderThan) yield key;
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

class S3BlobWriter implements BlobWriter {
  private size = 0;
  private closed = false;

  constructor(
    readonly key: string,
    private readonly spool: string,
    private readonly handle: FileHandle,
    private readonly upload: (size: number) => Promise<void>,
  ) {}

  async write(chunk: Buffer): Promise<void> {
    let done = 0;
    while (done < chunk.length) {
      const { bytesWritten } = await this.handle.write(chunk, done, chunk.length - done);
      done += bytesWritten;
    }
    this.size += chunk.length;
  }

  async finish(): Promise<{ key: string; size: number }> {
    this.closed = true;
    await this.handle.close();
    try {
      await this.upload(this.size);
    } finally {
      await rm(this.spool, { force: true });
    }
    return { key: this.key, size: this.size };
  }

  async abort(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.handle.close().catch(() => undefined);
    }
    await rm(this.spool, { force: true });
  }
}
