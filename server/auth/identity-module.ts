import type { FastifyInstance } from 'fastify';
import { AuditLog, auditPaths } from '../audit/audit-log.js';
import { RequestActivity } from './request-activity.js';
import { registerAccessControl } from './access-control.js';
import { IdentityStore } from './identity-store.js';
import { registerIdentityRoutes } from './identity-routes.js';
import { OidcVerifier, type OidcConfig } from './oidc-verifier.js';
import type { SsoClientConfig } from '../../shared/domain/sso.js';
import type { DestructionCertificate, DestructionRequest } from '../destruction/destroy-album.js';

export interface IdentityModule {
  readonly identity: IdentityStore;
  readonly audit: AuditLog;
  /** Requests being worked on (the audit trail syncs on the event loop only when there are none). */
  readonly activity: RequestActivity;
  close(): Promise<void>;
}

/**
 * Opens the identity store and the audit trail in the data folder and puts every route of `app` under access control
 * and audit. Register it before any other route: routes must declare `config.access` or they are refused.
 */
export async function attachIdentity(
  app: FastifyInstance,
  options: {
    dataDir: string;
    /** PostgreSQL for users, albums, tokens and the audit trail (several replicas); SQLite in the data folder otherwise. */
    databaseUrl?: string | undefined;
    auditKeyFile?: string | undefined;
    oidc?: OidcConfig | null | undefined;
    ssoClient?: SsoClientConfig | null | undefined;
    seriesExists?: (study: string, series: string) => Promise<boolean>;
    destroyAlbum?: (request: DestructionRequest) => Promise<DestructionCertificate>;
    modalitiesOf?: (series: ReadonlyArray<{ studyInstanceUID: string; seriesInstanceUID: string }>) => Promise<string[]>;
  },
): Promise<IdentityModule> {
  const identity = await IdentityStore.open({ dataDir: options.dataDir, databaseUrl: options.databaseUrl });
  const activity = new RequestActivity();
  const audit = await AuditLog.open(auditPaths(options.dataDir, options.auditKeyFile, options.databaseUrl), { syncInline: () => activity.idle });
  registerAccessControl(app, { identity, audit, oidc: options.oidc == null ? null : new OidcVerifier(options.oidc), activity });
  registerIdentityRoutes(app, {
    identity,
    audit,
    ssoClient: options.ssoClient ?? null,
    ...(options.seriesExists === undefined ? {} : { seriesExists: options.seriesExists }),
    ...(options.destroyAlbum === undefined ? {} : { destroyAlbum: options.destroyAlbum }),
    ...(options.modalitiesOf === undefined ? {} : { modalitiesOf: options.modalitiesOf }),
  });
  return {
    identity,
    audit,
    activity,
    close: async () => {
      await audit.close();
      await identity.close();
    },
  };
}
