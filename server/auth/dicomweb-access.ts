import type { AuditAction } from '../audit/audit-entry.js';
import type { AccessRule } from './access-control.js';

/** DICOMweb actions as the routes name them (see server/dicomweb/routes.ts). */
export type DicomwebRouteAction = Extract<AuditAction, `dicomweb.${string}`> | 'preflight';

/** The token permission each DICOMweb action needs, on every root. */
export const dicomwebPermission: Record<Exclude<DicomwebRouteAction, 'preflight'>, AccessRule['permission']> = {
  'dicomweb.store': 'write',
  'dicomweb.search': 'read',
  'dicomweb.retrieve': 'download',
  'dicomweb.retrieve-metadata': 'read',
  'dicomweb.retrieve-rendered': 'read',
  'dicomweb.delete': 'write',
};

/**
 * The server-wide DICOMweb root (`/dicomweb`) sees every study: server administrators only (PACS peers, pipelines,
 * the data steward's pushes), each call also limited by the token's permissions. People reach images through
 * album-scoped roots. CORS preflights carry no credentials and no data.
 */
export function globalDicomwebRule(action: DicomwebRouteAction): AccessRule {
  if (action === 'preflight') return { action: 'request.other', permission: null, public: true };
  return { action, permission: dicomwebPermission[action], serverAdmin: true };
}
