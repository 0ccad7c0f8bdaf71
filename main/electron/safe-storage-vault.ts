import { safeStorage } from 'electron';
import type { Logger } from 'pino';
import { openKeyFileVault, type SecretVault } from '../services/secret-vault.js';

/**
 * Electron's safeStorage (Keychain, DPAPI, libsecret/kwallet). On Linux without a keyring safeStorage falls back
 * to a hard-coded key ("basic_text"): then the user-only key file is used instead, and the log says so.
 */
export async function openSafeStorageVault(userDataDir: string, log: Logger): Promise<SecretVault> {
  const weakLinux = process.platform === 'linux' && safeStorage.getSelectedStorageBackend() === 'basic_text';
  if (!safeStorage.isEncryptionAvailable() || weakLinux) {
    log.warn('OS secret storage is not available; secrets are sealed with a user-only key file');
    return openKeyFileVault(userDataDir);
  }
  return {
    backend: 'electron-safe-storage',
    encrypt: async (plain) => safeStorage.encryptString(plain),
    decrypt: async (sealed) => safeStorage.decryptString(Buffer.from(sealed)),
  };
}
