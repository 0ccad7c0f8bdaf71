import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { BlobStore } from './blob-store.js';
import type { DicomIndex } from './dicom-index.js';
import { FsBlobStore } from './fs-blob-store.js';
import { PostgresIndex } from './postgres-index.js';
import { S3BlobStore } from './s3-blob-store.js';
import { SqliteIndex } from './sqlite-index.js';

export interface StorageConfig {
  dataDir: string;
  /** PostgreSQL connection string; SQLite in the data folder when absent. */
  databaseUrl?: string | undefined;
  s3?:
    | {
        bucket: string;
        prefix: string;
        endpoint?: string | undefined;
        region: string;
        forcePathStyle: boolean;
        accessKeyId?: string | undefined;
        secretAccessKey?: string | undefined;
      }
    | undefined;
  /** Blobs younger than this are never treated as orphans (another replica may be about to index them). */
  orphanGraceMs: number;
}

export interface Storage {
  readonly index: DicomIndex;
  readonly blobs: BlobStore;
  close(): Promise<void>;
}

/** Opens the index and the blob store the configuration names (embedded default: SQLite + files in the data folder). */
export async function openStorage(config: StorageConfig): Promise<Storage> {
  const index: DicomIndex = config.databaseUrl !== undefined ? new PostgresIndex(config.databaseUrl) : new SqliteIndex(join(config.dataDir, 'dicom-index.sqlite'));
  const blobs: BlobStore =
    config.s3 !== undefined
      ? new S3BlobStore({
          bucket: config.s3.bucket,
          prefix: config.s3.prefix,
          spoolDir: join(config.dataDir, 'spool'),
          client: {
            region: config.s3.region,
            forcePathStyle: config.s3.forcePathStyle,
            ...(config.s3.endpoint === undefined ? {} : { endpoint: config.s3.endpoint }),
            ...(config.s3.accessKeyId === undefined || config.s3.secretAccessKey === undefined
              ? {}
              : { credentials: { accessKeyId: config.s3.accessKeyId, secretAccessKey: config.s3.secretAccessKey } }),
          },
        })
      : new FsBlobStore(join(config.dataDir, 'blobs'));
  await index.init();
  await blobs.init();
  return {
    index,
    blobs,
    close: async () => {
      await blobs.close();
      await index.close();
    },
  };
}

/**
 * Startup repair. A crash can leave (a) spooled parts, (b) blobs written but never indexed (crash before the index
 * commit: the STOW was not acknowledged), (c) blobs un-indexed but not yet deleted (crash during DELETE). The index is
 * the truth: every blob older than the grace period that no row names is removed. Index rows never point at missing
 * blobs because blobs are made durable before the index commit and deleted only after the row is gone.
 */
export async function repairOrphans(storage: Storage, options: { dataDir: string; graceMs: number; log: Logger }): Promise<{ removed: number }> {
  const spool = join(options.dataDir, 'spool');
  try {
    for (const name of await readdir(spool)) if (name.endsWith('.part')) await rm(join(spool, name), { force: true });
  } catch {
    // No spool folder: nothing to clean.
  }
  let removed = 0;
  let batch: string[] = [];
  const flush = async (): Promise<void> => {
    const orphans = await storage.index.unreferenced(batch);
    if (orphans.length > 0) {
      await storage.blobs.delete(orphans);
      removed += orphans.length;
    }
    batch = [];
  };
  for await (const key of storage.blobs.list(Date.now() - options.graceMs)) {
    batch.push(key);
    if (batch.length >= 500) await flush();
  }
  if (batch.length > 0) await flush();
  if (removed > 0) options.log.warn({ removed }, 'removed orphan blobs left by an interrupted store or delete');
  return { removed };
}
