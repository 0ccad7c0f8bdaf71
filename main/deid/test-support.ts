// Test support for the de-identification tests (not used by the product).
import { corpusDir, repoRoot, requireCorpus, requirePath } from '../../test-support/requirements.js';

export { corpusDir, repoRoot, requirePath };

export const hasCorpus = (): boolean => requireCorpus();
export const hasDciodvfy = (): boolean => requirePath('/usr/bin/dciodvfy', 'dciodvfy (dicom3tools)', 'install it with: apt-get install dicom3tools');
