import type { Logger } from 'pino';
import type { IdentityStore } from '../auth/identity-store.js';
import type { DestructionCertificate, DestructionRequest } from './destroy-album.js';

/** The actor named in certificates and the audit trail for destructions the server performs on its own. */
export const scheduledDestructionActor = 'system:scheduled-destruction';

/**
 * Destroys albums when their destruction date (the end of the ethics approval) comes, and studies of an album at
 * their own destruction date: checked at start and then periodically. Each album is claimed first, so among several replicas exactly one destroys it.
 */
export function startDestructionScheduler(options: {
  identity: IdentityStore;
  destroy: (request: DestructionRequest) => Promise<DestructionCertificate>;
  log: Logger;
  intervalMs?: number;
  now?: () => Date;
}): DestructionScheduler {
  const { identity, log } = options;
  const now = options.now ?? (() => new Date());
  let running: Promise<string[]> | null = null;

  const runOnce = (): Promise<string[]> => {
    running ??= (async () => {
      const destroyed: string[] = [];
      for (const album of await identity.albumsDueForDestruction(now())) {
        if (!(await identity.claimDestruction(album.id, now()))) continue;
        try {
          const certificate = await options.destroy({
            albumId: album.id,
            actorId: scheduledDestructionActor,
            tokenId: null,
            reason: `Destruction date ${album.destructionDate ?? ''} reached`,
            clientAddress: null,
          });
          destroyed.push(certificate.certificateId);
          log.info({ certificateId: certificate.certificateId, verified: certificate.verification.ok }, 'album destroyed at its destruction date');
        } catch (error) {
          log.error({ err: error }, 'scheduled destruction failed; it will be retried');
        }
      }
      for (const study of await identity.studiesDueForDestruction(now())) {
        if (!(await identity.claimStudyDestruction(study.albumId, study.studyInstanceUID, now()))) continue;
        try {
          const certificate = await options.destroy({
            albumId: study.albumId,
            studyInstanceUID: study.studyInstanceUID,
            actorId: scheduledDestructionActor,
            tokenId: null,
            reason: `Destruction date ${study.destructionDate} of a study reached`,
            clientAddress: null,
          });
          destroyed.push(certificate.certificateId);
          log.info({ certificateId: certificate.certificateId }, 'study destroyed at its destruction date');
        } catch (error) {
          log.error({ err: error }, 'scheduled study destruction failed; it will be retried');
        }
      }
      return destroyed;
    })().finally(() => {
      running = null;
    });
    return running;
  };

  const timer = setInterval(() => void runOnce(), options.intervalMs ?? 3_600_000);
  timer.unref();
  void runOnce();
  return {
    runOnce,
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}

export interface DestructionScheduler {
  /** Destroys every album that is due now; resolves with the certificate ids. */
  runOnce(): Promise<string[]>;
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}
