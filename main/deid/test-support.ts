// Test support for the de-identification tests (not used by the product).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '..', '..');
/** The shared DICOM test corpus (never copied into the repository: licences). */
export const corpusDir = join(repoRoot, '..', 'shared', 'corpus');

function ci(): boolean {
  const value = process.env.CI;
  return value !== undefined && value !== '' && value !== 'false';
}

/**
 * Whether a test input is present. Missing: skipped with a message on a developer's machine, a failure under CI.
 */
export function requirePath(path: string, what: string, howToGet: string): boolean {
  if (existsSync(path)) return true;
  const reason = `${what} is missing (${path}); ${howToGet}`;
  if (ci()) throw new Error(`CI requires this: ${reason}`);
  console.warn(`SKIPPED: ${reason}`);
  return false;
}

export const hasCorpus = (): boolean => requirePath(corpusDir, 'the DICOM test corpus', 'check out the shared corpus beside the repository (../shared/corpus)');
export const hasDciodvfy = (): boolean => requirePath('/usr/bin/dciodvfy', 'dciodvfy (dicom3tools)', 'install it with: apt-get install dicom3tools');
