import { randomBytes } from 'node:crypto';
import { closeSync, constants, existsSync, openSync } from 'node:fs';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../test-support/requirements.js';
import { FsBlobStore } from './fs-blob-store.js';

type Writes = 'native' | 'direct' | 'page-cache';

async function store(writes: Writes): Promise<FsBlobStore> {
  const blobs = new FsBlobStore(join(await mkdtemp(join(tmpdir(), 'paradim-blobs-')), 'blobs'), { writes });
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

// Every way of writing (native where built, direct I/O from JavaScript, the page cache) must store the same bytes.
describe.each(['native', 'direct', 'page-cache'] as const)('FsBlobStore writes (%s)', (writes) => {
  it('stores small (one synchronous write), large (written in pieces, then synced) and empty blobs byte for byte', async () => {
    const blobs = await store(writes);
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
      // Into a caller's (pooled) buffer; past the end, only what there is.
      expect((await blobs.read(key, 10, 20, Buffer.alloc(64))).equals(expected.subarray(10, 20))).toBe(true);
      expect((await blobs.read(key, Math.max(0, size - 5), size + 5, Buffer.alloc(64))).equals(expected.subarray(Math.max(0, size - 5)))).toBe(true);
    }
  });

  it('removes an aborted blob, whether or not its file was opened', async () => {
    const blobs = await store(writes);
    for (const chunks of [[randomBytes(100)], Array.from({ length: 9 }, () => randomBytes(1 << 20))]) {
      const writer = await blobs.create();
      for (const chunk of chunks) await writer.write(chunk);
      await writer.abort();
      await expect(stat(blobs.path(writer.key))).rejects.toThrow(/ENOENT/);
    }
  });

  it('writes any length and any chunking byte for byte through the aligned staging buffers (direct I/O where available)', async () => {
    const blobs = await store(writes);
    const mib = 1 << 20;
    const sizes = [1, 100, 4095, 4096, 4097, mib - 1, mib, mib + 1, 3 * mib + 4096, 3 * mib + 123];
    let seed = 7;
    const nextChunk = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return [1, 17, 4096, 65_536, 300_001, 2 * mib + 3][seed % 6] ?? 1;
    };
    for (const size of sizes) {
      const expected = randomBytes(size);
      const chunks: Buffer[] = [];
      for (let offset = 0; offset < size; ) {
        const length = Math.min(size - offset, nextChunk());
        chunks.push(expected.subarray(offset, offset + length));
        offset += length;
      }
      const { key, size: stored } = await put(blobs, chunks);
      expect(stored, `size ${size}`).toBe(size);
      expect((await stat(blobs.path(key))).size, `size ${size}`).toBe(size);
      expect((await readFile(blobs.path(key))).equals(expected), `size ${size}`).toBe(true);
    }
    // Where this filesystem takes O_DIRECT, the store must have used it (the page-cache path is only a fallback).
    let directSupported = false;
    if (constants.O_DIRECT !== undefined) {
      try {
        closeSync(openSync(join(blobs.path('ab/' + '0'.repeat(32)), '..', 'probe'), constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT, 0o600));
        directSupported = true;
      } catch {
        directSupported = false;
      }
    }
    expect(blobs.writesDirect).toBe(writes !== 'page-cache' && directSupported && process.env.PARADIM_DIRECT_IO !== 'off');
    if (writes === 'native' && process.platform === 'linux' && process.env.PARADIM_NATIVE_BLOB !== 'off' && existsSync(join(repoRoot, 'app/native/blob-io.node'))) {
      expect(blobs.writesNative).toBe(blobs.writesDirect !== false);
    }
    if (writes !== 'native') expect(blobs.writesNative).toBe(false);
  });

  it('keeps many concurrent writers apart when the staging buffers run out (the rest go through the page cache)', async () => {
    const blobs = await store(writes);
    const contents = Array.from({ length: 80 }, (_, i) => randomBytes(200_000 + i * 4099));
    const writers = await Promise.all(contents.map(() => blobs.create({ group: 'cd' })));
    // Interleave: every writer holds data before any finishes, so more writers than staging buffers are open at once.
    for (let offset = 0; offset < 200_000; offset += 50_000) {
      await Promise.all(writers.map((writer, i) => writer.write((contents[i] ?? Buffer.alloc(0)).subarray(offset, offset + 50_000))));
    }
    await Promise.all(writers.map((writer, i) => writer.write((contents[i] ?? Buffer.alloc(0)).subarray(200_000))));
    const finished = await Promise.all(writers.map((writer) => writer.finish()));
    for (const [i, { key }] of finished.entries()) expect((await readFile(blobs.path(key))).equals(contents[i] ?? Buffer.alloc(0))).toBe(true);
    // A later blob reuses a returned staging buffer: its file has exactly its own bytes, nothing of an earlier blob.
    const small = randomBytes(10);
    const { key } = await put(blobs, [small]);
    expect(await readFile(blobs.path(key))).toEqual(small);
  });
});
