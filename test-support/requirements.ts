// Test support shared by every test folder (not product code): where the reference material is, and how a test that
// needs a system component or the corpus behaves when it is missing.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is test-support/requirements.ts). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The shared DICOM test corpus, beside the repository; never copied into it (licences). */
export const corpusDir = join(repoRoot, '..', 'shared', 'corpus');

export function inCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== 'false';
}

/**
 * Whether something a test needs is there. Missing: the test is skipped with a message saying how to get it, except
 * under CI (CI set), where `.ci/run` must have installed it and the test fails instead.
 */
export function requirePath(path: string, what: string, howToGet: string): boolean {
  if (existsSync(path)) return true;
  const reason = `${what} is not available (${path} is missing); ${howToGet}`;
  if (inCI()) throw new Error(`CI requires this: ${reason}`);
  console.warn(`SKIPPED: ${reason}`);
  return false;
}

export function requireCorpus(): boolean {
  return requirePath(join(corpusDir, 'MANIFEST.tsv'), 'The DICOM test corpus', 'check out the shared corpus beside the repository (../shared/corpus)');
}
