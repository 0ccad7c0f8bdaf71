import { existsSync } from 'node:fs';

/**
 * A system component a test needs. Without it the test is skipped with a clear reason on a developer's machine,
 * but fails under CI (CI=true), where `.ci/run` must have installed it.
 */
export function requireSystemFile(path: string, what: string, install: string): { ok: boolean; reason: string } {
  if (existsSync(path)) return { ok: true, reason: '' };
  const reason = `${what} is not installed (${path} is missing); install it with: ${install}`;
  if (process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false') {
    throw new Error(`CI requires this: ${reason}`);
  }
  console.warn(`SKIPPED: ${reason}`);
  return { ok: false, reason };
}
