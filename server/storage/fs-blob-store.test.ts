import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FsBlobStore } from './fs-blob-store.js';

async function store(): Promise<FsBlobStore> {
  const blobs = new FsBlobStore(join(await mkdtemp(join(tmpdir(), 'paradim-blobs-')), 'blobs'));
  await blobs.init();
  return blobs;
}

async function put(blobs: FsBlobStore, chunks: Buffer[]): Promise<{ key: string; size: number }> {
  const writer = await blobs.create({ group: 'ab' });
  for (const chunk of chunks) await writer.write(chunk);
  const finished = await writer.finish();
  await writer.created;
  await blobs.commit([finished.key]);
  return finished;
}

describe('FsBlobStore writes', () => {
  it('stores small (one synchronous write), large (written in pieces, then synced) and empty blobs byte for byte', async () => {
    const blobs = await store();
    const small = Array.from({ length: 9 }, () => randomBytes(65_536));
    const large = Array.from({ length: 21 }, () => randomBytes(1 << 20));
    for (const chunks of [small, large, []]) {
      const { key, size } = await put(blobs, chunks);
      const expected = Buffer.concat(chunks);
      expect(key.startsWith('ab/')).toBe(true);
      expect(size).toBe(expected.length);
      expect((await stat(blobs.path(key))).mode & 0o777).toBe(0o600);
      expect((await readFile(blobs.path(key))).equals(expected)).toBe(true);
      expect((await blobs.read(key, 10, 20)).equals(expected.subarray(10, 20))).toBe(true);
    }
  });

  it('removes an aborted blob, whether or not its file was opened', async () => {
    const blobs = await store();
    for (const chunks of [[randomBytes(100)], Array.from({ length: 9 }, () => randomBytes(1 << 20))]) {
      const writer = await blobs.create();
      for (const chunk of chunks) await writer.write(chunk);
      await writer.abort();
      await expect(stat(blobs.path(writer.key))).rejects.toThrow(/ENOENT/);
    }
  });
});
