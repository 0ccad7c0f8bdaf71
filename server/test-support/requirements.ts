export { corpusDir, repoRoot, requireCorpus, requirePath } from '../../test-support/requirements.js';
