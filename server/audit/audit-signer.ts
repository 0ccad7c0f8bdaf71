import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, renameSync, writeSync, fsyncSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Ed25519 key that signs audit checkpoints. Keep it outside the data folder in production (config `auditKeyFile`)
 * and give the public key (`paradim-server audit public-key`) to whoever verifies the trail.
 */
export interface AuditSigner {
  readonly publicKeyPem: string;
  sign(message: string): string;
}

export function loadOrCreateSigner(keyFile: string): AuditSigner {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(keyFile));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    privateKey = generateKeyPairSync('ed25519').privateKey;
    writeFileDurably(keyFile, privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${keyFile} is not an Ed25519 private key`);
  const publicKeyPem = createPublicKey(privateKey).export({ format: 'pem', type: 'spki' }).toString();
  return { publicKeyPem, sign: (message) => sign(null, Buffer.from(message), privateKey).toString('base64') };
}

export function verifySignature(publicKeyPem: string, message: string, signature: string): boolean {
  try {
    return verify(null, Buffer.from(message), createPublicKey(publicKeyPem), Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** Synchronous temp + fsync + rename, for small files written inside the audit flush. */
export function writeFileDurably(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
