import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../../shared/errors/app-error.js';
import { writeFileAtomic } from './atomic-write.js';

/**
 * Encryption of small secrets at rest (token caches, re-identification map keys) for services.
 * In Electron it is backed by `safeStorage` (OS keychain / DPAPI / libsecret); in the browser shell,
 * where no OS keychain is reachable from Node, by a random key in a user-only file.
 */
export interface SecretVault {
  readonly backend: 'electron-safe-storage' | 'user-key-file';
  encrypt(plain: string): Promise<Uint8Array>;
  decrypt(sealed: Uint8Array): Promise<string>;
}

const version = 1;

/** AES-256-GCM with a 32-byte key kept in `vault.key` (mode 0600) in the user data folder. */
export async function openKeyFileVault(userDataDir: string): Promise<SecretVault> {
  const keyFile = join(userDataDir, 'vault.key');
  let key: Buffer;
  try {
    key = await readFile(keyFile);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    key = randomBytes(32);
    await writeFileAtomic(keyFile, key, 0o600);
  }
  if (key.length !== 32) throw new AppError('CONFIG_INVALID', [{ path: 'vault.key', issue: 'is not a 32-byte key' }]);
  return {
    backend: 'user-key-file',
    encrypt: async (plain) => {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return Buffer.concat([Buffer.from([version]), iv, cipher.getAuthTag(), body]);
    },
    decrypt: async (sealed) => {
      const buf = Buffer.from(sealed);
      if (buf.length < 29 || buf[0] !== version) {
        throw new AppError('INVALID_INPUT', [{ path: 'sealed', issue: 'is not a vault secret' }]);
      }
      const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(1, 13));
      decipher.setAuthTag(buf.subarray(13, 29));
      try {
        return Buffer.concat([decipher.update(buf.subarray(29)), decipher.final()]).toString('utf8');
      } catch (error) {
        throw new AppError('INVALID_INPUT', [{ path: 'sealed', issue: 'was altered or sealed with another key' }], { cause: error });
      }
    },
  };
}
