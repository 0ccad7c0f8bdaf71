import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { SessionService } from './session-service.js';

export function bootstrapTokenFile(userDataDir: string): string {
  return join(userDataDir, 'bootstrap-token');
}

/**
 * Signs the workstation in with the token the launcher minted for the embedded server, once, then deletes the file
 * so the secret lives only in the sealed session.
 */
export async function consumeBootstrapToken(userDataDir: string, session: SessionService, log: Logger): Promise<void> {
  const file = bootstrapTokenFile(userDataDir);
  let token: string;
  try {
    token = (await readFile(file, 'utf8')).trim();
  } catch {
    return;
  }
  try {
    if ((await session.get()).state === 'signed-out') await session.signInWithToken(token);
    await rm(file, { force: true });
    log.info('signed in to the embedded server');
  } catch (error) {
    // Keep the file: the server may not be up yet; the next start tries again.
    log.warn({ err: error }, 'could not sign in to the embedded server yet');
  }
}
