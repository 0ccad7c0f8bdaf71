import { createHash, createHmac } from 'node:crypto';
import type { DeidCrypto } from '../../shared/deid/crypto.js';

/** DeidCrypto with node:crypto: HMAC-SHA-256 keyed with the project key. */
export function nodeDeidCrypto(key: Uint8Array): DeidCrypto {
  const keyBuffer = Buffer.from(key);
  return {
    hmac: (data) => new Uint8Array(createHmac('sha256', keyBuffer).update(data).digest()),
    sha256: (data) => new Uint8Array(createHash('sha256').update(data).digest()),
  };
}
