import { DeidEngine } from '../../shared/deid/engine.js';
import { profileDigest } from '../../shared/deid/profile-codes.js';
import type { DeidProfile } from '../../shared/deid/profile.js';
import { appVersion } from '../version.js';
import { nodeDeidCrypto } from './node-crypto.js';

export function createDeidEngine(profile: DeidProfile, key: Uint8Array): DeidEngine {
  const crypto = nodeDeidCrypto(key);
  return new DeidEngine({ profile, profileDigest: profileDigest(profile, crypto), crypto, engineVersion: appVersion });
}
