import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * The closed list of audited actions. Adding one is a code change, reviewed like any other: the audit trail must
 * mean the same thing to the privacy officer next year as today.
 */
export const auditActions = [
  'dicomweb.store',
  'dicomweb.search',
  'dicomweb.retrieve',
  'dicomweb.retrieve-metadata',
  'dicomweb.retrieve-rendered',
  'dicomweb.delete',
  'album.create',
  'album.update',
  'album.read',
  'album.member-add',
  'album.member-remove',
  'album.series-add',
  'album.series-remove',
  'album.destroy',
  'token.create',
  'token.revoke',
  'token.introspect',
  'user.provision',
  'audit.query',
  'audit.export',
  'access-review.read',
  'destruction.certify',
  'auth.denied',
  'request.other',
] as const;

export type AuditAction = (typeof auditActions)[number];
export const auditOutcomes = ['success', 'denied', 'failed'] as const;
export type AuditOutcome = (typeof auditOutcomes)[number];

const uid = z.string().max(64).regex(/^[0-9.]+$/, 'is not a DICOM UID');
const shortText = z.string().max(256);

/** What a caller records: who, what, when, from where, why (album) and the outcome. */
export const auditEventSchema = z.strictObject({
  action: z.enum(auditActions),
  outcome: z.enum(auditOutcomes),
  actorId: shortText.nullable(),
  tokenId: shortText.nullable(),
  albumId: shortText.nullable(),
  studyInstanceUID: uid.nullable(),
  seriesInstanceUID: uid.nullable(),
  sopInstanceUID: uid.nullable(),
  httpStatus: z.number().int().min(100).max(599).nullable(),
  clientAddress: shortText.nullable(),
  requestId: shortText.nullable(),
  /** Short machine-readable context (route template, counts); never free text from users or DICOM values beyond UIDs. */
  detail: z.record(z.string(), z.union([z.string().max(512), z.number(), z.boolean(), z.null()])).nullable(),
});

export type AuditEvent = z.input<typeof auditEventSchema>;

/** A stored entry: the event plus its place in the chain. */
export interface AuditRecord extends z.output<typeof auditEventSchema> {
  readonly seq: number;
  readonly time: string;
  readonly prevHash: string;
  readonly hash: string;
}

export const genesisHash = '0'.repeat(64);

/**
 * The hashed fields of an entry, in their fixed order, with their column names: the chain never depends on object
 * key order, and storage writes exactly what is hashed.
 */
export const auditFields = [
  ['seq', 'seq'],
  ['time', 'time'],
  ['action', 'action'],
  ['outcome', 'outcome'],
  ['actorId', 'actor_id'],
  ['tokenId', 'token_id'],
  ['albumId', 'album_id'],
  ['studyInstanceUID', 'study_uid'],
  ['seriesInstanceUID', 'series_uid'],
  ['sopInstanceUID', 'instance_uid'],
  ['httpStatus', 'http_status'],
  ['clientAddress', 'client_address'],
  ['requestId', 'request_id'],
  ['detail', 'detail'],
  ['prevHash', 'prev_hash'],
] as const satisfies ReadonlyArray<readonly [keyof Omit<AuditRecord, 'hash'>, string]>;

/** The canonical bytes that are hashed. */
export function canonicalAuditBytes(record: Omit<AuditRecord, 'hash'>): string {
  return JSON.stringify(
    auditFields.map(([field]) =>
      field === 'detail'
        ? record.detail === null
          ? null
          : Object.entries(record.detail).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        : record[field],
    ),
  );
}

export function hashAuditRecord(record: Omit<AuditRecord, 'hash'>): string {
  return createHash('sha256').update(canonicalAuditBytes(record)).digest('hex');
}
