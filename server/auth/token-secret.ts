import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { tokenSecretPattern } from '../../shared/domain/access.js';

/**
 * Token secrets look like `pdw_<id>_<secret>`: the id (public, shown in lists and the audit trail) finds the row,
 * the secret (32 random bytes) is stored only as its SHA-256. A high-entropy secret needs no slow hash.
 */
const pattern = tokenSecretPattern;

export function newTokenSecret(): { id: string; secret: string; hash: string } {
  const id = randomBytes(8).toString('hex');
  const raw = randomBytes(32).toString('base64url');
  const secret = `pdw_${id}_${raw}`;
  return { id, secret, hash: hashTokenSecret(secret) };
}

export function hashTokenSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function tokenIdOf(secret: string): string | null {
  return pattern.exec(secret)?.[1] ?? null;
}

export function looksLikeTokenSecret(value: string): boolean {
  return pattern.test(value);
}

export function secretMatchesHash(secret: string, hash: string): boolean {
  const a = Buffer.from(hashTokenSecret(secret), 'hex');
  const b = Buffer.from(hash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
