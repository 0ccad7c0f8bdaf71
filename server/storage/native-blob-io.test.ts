import { randomBytes } from 'node:crypto';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, requirePath } from '../test-support/requirements.js';
import { nativeBlobIo, type WriteBlob } from './native-blob-io.js';

// The module comes from `npm run build` (npm test builds before the unit tests); Linux only.
const built = process.platform === 'linux' && requirePath(join(repoRoot, 'app/native/blob-io.node'), 'the native blob I/O module', 'run npm run build (needs a C compiler and Node headers)');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'paradim-blob-io-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (writeBlob: WriteBlob, path: string, buffers: Buffer[]): Promise<number> =>
  new Promise((resolve, reject) => writeBlob(path, buffers, (error, directBytes) => (error === null ? resolve(directBytes ?? 0) : reject(error))));

function directIoWorksHere(): boolean {
  try {
    closeSync(openSync(join(dir, 'probe'), constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT, 0o600));
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!built)('native one-task blob write and read', () => {
  it('writes any length from any buffers byte for byte, whole blocks with direct I/O, mode 0600', async () => {
    const writeBlob = nativeBlobIo()?.writeBlob;
    expect(writeBlob).toBeDefined();
    if (writeBlob === undefined) return;
    const direct = directIoWorksHere();
    const mib = 1 << 20;
    for (const [i, size] of [0, 1, 4095, 4096, 4097, 525_000, mib, 3 * mib + 123, 8 * mib].entries()) {
      const bytes = randomBytes(size);
      // Uneven buffers, as a network delivers them (including empty ones).
      const buffers: Buffer[] = [];
      for (let offset = 0, step = 1; offset < size; step = (step * 7 + 3) % 200_003) {
        buffers.push(bytes.subarray(offset, offset + step), Buffer.alloc(0));
        offset += step;
      }
      const path = join(dir, `blob-${i}`);
      const directBytes = await write(writeBlob, path, buffers);
      expect(readFileSync(path).equals(bytes), `size ${size}`).toBe(true);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(directBytes, `size ${size}`).toBe(direct ? size - (size % 4096) : 0);
    }
  });

  it('never replaces an existing file, and names the error and the call', async () => {
    const writeBlob = nativeBlobIo()?.writeBlob;
    if (writeBlob === undefined) return;
    const path = join(dir, 'existing');
    writeFileSync(path, 'keep');
    await expect(write(writeBlob, path, [randomBytes(10_000)])).rejects.toMatchObject({ code: 'EEXIST', message: expect.stringMatching(/^EEXIST: .*open/) });
    expect(readFileSync(path, 'utf8')).toBe('keep');
    await expect(write(writeBlob, join(dir, 'missing', 'blob'), [randomBytes(10)])).rejects.toMatchObject({ code: 'ENOENT' });
    expect(() => writeBlob(path, 'not an array' as unknown as Buffer[], () => undefined)).toThrow(/writeBlob\(path, buffers, callback\)/);
    expect(() => writeBlob(path, ['text' as unknown as Buffer], () => undefined)).toThrow(/array of Buffers/);
  });

  it('reads a range into a given buffer in one task, short only at the end of the file, and names errors', async () => {
    const readBlob = nativeBlobIo()?.readBlob;
    expect(readBlob).toBeDefined();
    if (readBlob === undefined) return;
    const bytes = randomBytes(300_000);
    const path = join(dir, 'to-read');
    writeFileSync(path, bytes);
    const read = (start: number, target: Buffer): Promise<number> =>
      new Promise((resolve, reject) => readBlob(path, start, target, (error, count) => (error === null ? resolve(count ?? 0) : reject(error))));
    const target = Buffer.alloc(100_000);
    expect(await read(12_345, target)).toBe(100_000);
    expect(target.equals(bytes.subarray(12_345, 112_345))).toBe(true);
    expect(await read(250_000, target)).toBe(50_000);
    expect(target.subarray(0, 50_000).equals(bytes.subarray(250_000))).toBe(true);
    expect(await read(400_000, target)).toBe(0);
    await expect(
      new Promise((resolve, reject) => readBlob(join(dir, 'absent'), 0, target, (error, count) => (error === null ? resolve(count) : reject(error)))),
    ).rejects.toMatchObject({ code: 'ENOENT', message: expect.stringMatching(/^ENOENT: .*open/) });
    expect(() => readBlob(path, -1, target, () => undefined)).toThrow(/readBlob\(path, start, target, callback\)/);
  });
});
