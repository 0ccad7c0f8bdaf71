// Test support for the de-identification tests (not used by the product).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { corpusDir, repoRoot, requireCorpus, requirePath } from '../../test-support/requirements.js';

export { corpusDir, repoRoot, requirePath };

export const hasCorpus = (): boolean => requireCorpus();
export const hasDciodvfy = (): boolean => requirePath('/usr/bin/dciodvfy', 'dciodvfy (dicom3tools)', 'install it with: apt-get install dicom3tools');

/**
 * Every de-identified file below `root` with its SHA-256, keyed by path relative to `root` (to compare two runs'
 * outputs). The output folder's origin record (key fingerprint and profile digest) is not an output.
 */
export function tree(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (folder: string): void => {
    for (const name of readdirSync(folder)) {
      if (folder === root && name === '.paradim-deid-origin.json') continue;
      const path = join(folder, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(path.slice(root.length), createHash('sha256').update(readFileSync(path)).digest('hex'));
    }
  };
  walk(root);
  return files;
}
