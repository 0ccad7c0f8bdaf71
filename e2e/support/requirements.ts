import { requirePath } from '../../test-support/requirements.js';

/**
 * A system component a test needs. Without it the test is skipped with a clear reason on a developer's machine,
 * but fails under CI (CI=true), where `.ci/run` must have installed it.
 */
export function requireSystemFile(path: string, what: string, install: string): { ok: boolean } {
  return { ok: requirePath(path, what, `install it with: ${install}`) };
}
