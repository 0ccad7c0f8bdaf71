import { randomBytes } from 'node:crypto';
import { chmod, open, readFile, mkdir } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { AppError } from '../../shared/errors/app-error.js';

const header = 'paradim-deid-key-v1';

/**
 * The per-project secret key (32 random bytes) in a user-only file. A missing file is created (exclusively, mode
 * 0600), so the same path gives the same pseudonyms in every later batch.
 */
export async function loadOrCreateKey(path: string): Promise<{ key: Uint8Array; created: boolean }> {
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EISDIR' || code === 'EACCES' || code === 'EPERM') {
      throw new AppError('DEID_KEY_INVALID', [{ path: basename(path), issue: code === 'EISDIR' ? 'is a folder, not a key file' : 'cannot be read (permission denied)' }]);
    }
    if (code !== 'ENOENT') throw error;
  }
  if (text !== undefined) return { key: parseKey(text, path), created: false };
  const key = randomBytes(32);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  let handle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { key: parseKey(await readFile(path, 'utf8'), path), created: false };
    throw new AppError('STORAGE_WRITE_FAILED', [{ path: basename(path), issue: 'the key file could not be created' }], { cause: error });
  }
  try {
    await handle.writeFile(`${header}\n${key.toString('hex')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await chmod(path, 0o600);
  return { key: new Uint8Array(key), created: true };
}

function parseKey(text: string, path: string): Uint8Array {
  const lines = text.trim().split(/\r?\n/);
  if (lines.length !== 2 || lines[0] !== header || !/^[0-9a-f]{64}$/.test(lines[1] ?? '')) {
    throw new AppError('DEID_KEY_INVALID', [{ path: basename(path), issue: `expected "${header}" and 64 hex digits` }]);
  }
  return new Uint8Array(Buffer.from(lines[1] ?? '', 'hex'));
}
