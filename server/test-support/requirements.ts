import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is server/test-support/requirements.ts). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The shared test corpus, next to the repository; never copied into it. */
export const corpusDir = join(repoRoot, '..', 'shared', 'corpus');

function inCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== 'false';
}

/**
 * A component a test needs (corpus, PostgreSQL, Orthanc, s3rver, dcmtk). Missing: the test is skipped with a message
 * saying what to install, except under CI (CI set), where it fails.
 */
export function requirePath(path: string, what: string, install: string): boolean {
  if (existsSync(path)) return true;
  const reason = `${what} is not available (${path} is missing); ${install}`;
  if (inCI()) throw new Error(`CI requires this: ${reason}`);
  console.warn(`SKIPPED: ${reason}`);
  return false;
}

export function requireCorpus(): boolean {
  return requirePath(join(corpusDir, 'MANIFEST.tsv'), 'The DICOM test corpus', 'check out the shared corpus next to the repository (../shared/corpus)');
}
