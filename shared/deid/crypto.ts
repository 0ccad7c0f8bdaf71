/**
 * Hashing, injected because shared/ has no Node and no Web Crypto types: main/ implements it with node:crypto.
 * `hmac` is keyed with the project's secret key.
 */
export interface DeidCrypto {
  hmac(data: Uint8Array): Uint8Array;
  sha256(data: Uint8Array): Uint8Array;
}

export function toHex(bytes: Uint8Array): string {
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return hex;
}
