import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname } from 'node:path';
import { AppError } from '../../shared/errors/app-error.js';
import { writeFileAtomic } from '../services/atomic-write.js';

/** Seals the re-identification map: a passphrase in the CLI, Electron safeStorage (SecretVault) in the app. */
export interface MapSealer {
  seal(plain: string): Promise<Uint8Array>;
  open(sealed: Uint8Array): Promise<string>;
}

export interface ReidMap {
  readonly format: 'paradim-reid-map/1';
  /** pseudonym → original identity and the studies seen (new StudyInstanceUID → original). */
  readonly patients: Record<string, { patientId: string; patientName: string; otherNames?: string[]; studies: Record<string, string> }>;
}

const magic = Buffer.from('PDRM1');

/** scrypt (N=2^15, r=8, p=1) → AES-256-GCM. File: magic, salt(16), iv(12), tag(16), ciphertext. */
export function passphraseSealer(passphrase: string): MapSealer {
  if (passphrase.length < 8) throw new AppError('INVALID_INPUT', [{ path: 'passphrase', issue: 'must have at least 8 characters' }]);
  const derive = (salt: Buffer): Buffer => scryptSync(passphrase, salt, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
  return {
    seal: async (plain) => {
      const salt = randomBytes(16);
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', derive(salt), iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return Buffer.concat([magic, salt, iv, cipher.getAuthTag(), body]);
    },
    open: async (sealed) => {
      const buf = Buffer.from(sealed);
      if (buf.length < 49 || !buf.subarray(0, 5).equals(magic)) throw new AppError('DEID_MAP_LOCKED', [{ path: '', issue: 'not a re-identification map file' }]);
      const decipher = createDecipheriv('aes-256-gcm', derive(buf.subarray(5, 21)), buf.subarray(21, 33));
      decipher.setAuthTag(buf.subarray(33, 49));
      try {
        return Buffer.concat([decipher.update(buf.subarray(49)), decipher.final()]).toString('utf8');
      } catch (error) {
        throw new AppError('DEID_MAP_LOCKED', [{ path: '', issue: 'wrong passphrase, or the file was altered' }], { cause: error });
      }
    },
  };
}

export async function readReidMap(path: string, sealer: MapSealer): Promise<ReidMap> {
  let sealed: Buffer;
  try {
    sealed = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { format: 'paradim-reid-map/1', patients: {} };
    throw error;
  }
  const parsed = JSON.parse(await sealer.open(sealed)) as ReidMap;
  if (parsed.format !== 'paradim-reid-map/1') throw new AppError('DEID_MAP_LOCKED', [{ path: basename(path), issue: 'unknown map format' }]);
  return parsed;
}

/**
 * Holds `<map>.lock` while `work` runs: two batches of one project (same map) ending together must not both read the
 * old map and each write back only their own patients. A lock older than two minutes is from a run that died.
 */
async function withMapLock<T>(path: string, work: () => Promise<T>): Promise<T> {
  const lock = `${path}.lock`;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      await writeFile(lock, `${JSON.stringify({ pid: process.pid, host: hostname() })}\n`, { flag: 'wx', mode: 0o600 });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = await stat(lock).then((info) => Date.now() - info.mtimeMs, () => 0);
      const holder = await readFile(lock, 'utf8').then((text) => JSON.parse(text) as { pid?: number; host?: string }, () => undefined);
      // The holder died on this machine (a run killed while merging), or the lock is old: taken over at once.
      const dead = holder?.host === hostname() && typeof holder.pid === 'number' && !processAlive(holder.pid);
      if (dead || age > 120_000) await rm(lock, { force: true });
      else if (Date.now() > deadline) throw new AppError('DEID_MAP_LOCKED', [{ path: basename(lock), issue: 'another batch has held the map for two minutes; try again' }]);
      else await new Promise((resolveWait) => setTimeout(resolveWait, 100));
    }
  }
  try {
    return await work();
  } finally {
    await rm(lock, { force: true });
  }
}

/** True when a process with this number runs on this machine (EPERM: it runs, under another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Merges new entries into the map file (read, merge, re-encrypt, atomic write). Returns pseudonym collisions. */
export async function mergeReidMap(
  path: string,
  sealer: MapSealer,
  entries: Iterable<{ pseudonym: string; patientId: string; patientName: string; studyInstanceUID: string; newStudyInstanceUID: string }>,
): Promise<{ collisions: number; sharedIds: number }> {
  return withMapLock(path, () => mergeLocked(path, sealer, entries));
}

async function mergeLocked(
  path: string,
  sealer: MapSealer,
  entries: Iterable<{ pseudonym: string; patientId: string; patientName: string; studyInstanceUID: string; newStudyInstanceUID: string }>,
): Promise<{ collisions: number; sharedIds: number }> {
  const map = await readReidMap(path, sealer);
  let collisions = 0;
  const shared = new Set<string>();
  for (const entry of entries) {
    const existing = map.patients[entry.pseudonym];
    if (existing === undefined) {
      map.patients[entry.pseudonym] = { patientId: entry.patientId, patientName: entry.patientName, studies: { [entry.newStudyInstanceUID]: entry.studyInstanceUID } };
      continue;
    }
    existing.studies[entry.newStudyInstanceUID] = entry.studyInstanceUID;
    if (existing.patientId !== entry.patientId) collisions++;
    else {
      // One patient ID under several names (a typo, a marriage, test data): every name is kept, in a fixed order, so
      // the map does not depend on which file came first.
      const names = [...new Set([existing.patientName, ...(existing.otherNames ?? []), entry.patientName])].sort();
      if (names.length > 1) shared.add(entry.pseudonym);
      existing.patientName = names[0] ?? '';
      if (names.length > 1) existing.otherNames = names.slice(1);
    }
  }
  await writeFileAtomic(path, await sealer.seal(JSON.stringify(map)), 0o600);
  return { collisions, sharedIds: shared.size };
}
