import { createHash, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { AuditLog } from '../audit/audit-log.js';
import { writeFileDurably, type AuditSigner } from '../audit/audit-signer.js';
import type { IdentityStore } from '../auth/identity-store.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { DicomIndex, Scope } from '../storage/dicom-index.js';
import { AppError } from '../../shared/errors/app-error.js';

/** What was destroyed, provably: hashed UIDs (never the UIDs themselves), counts, where, when, who, and the check. */
export interface DestructionCertificate {
  readonly certificateId: string;
  readonly version: 1;
  readonly album: { readonly id: string; readonly name: string; readonly ethicsProtocol: string | null; readonly destructionDate: string | null };
  /** `album`: the whole album; `study`: one study of the album at its own destruction date (the album stays). */
  readonly scope: 'album' | 'study';
  /** SHA-256 of the study's UID when the scope is a study. */
  readonly studyHash: string | null;
  readonly destroyedAt: string;
  readonly destroyedBy: string;
  readonly reason: string;
  readonly storage: { readonly blobs: string; readonly index: string };
  readonly series: ReadonlyArray<{
    readonly studyHash: string;
    readonly seriesHash: string;
    readonly instanceHashes: readonly string[];
    readonly derived: boolean;
  }>;
  /** Series of the album that other albums still hold: left in place, listed so the board sees why. */
  readonly retainedSeries: ReadonlyArray<{ readonly studyHash: string; readonly seriesHash: string; readonly heldByAlbums: number }>;
  readonly totals: { readonly series: number; readonly instances: number; readonly blobs: number };
  readonly verification: { readonly ok: boolean; readonly checkedAt: string; readonly problems: readonly string[] };
  /** Ed25519 signature (base64) over the certificate without this field, by the server's audit key. */
  readonly signature?: string;
}

export function hashUid(uid: string): string {
  return createHash('sha256').update(uid).digest('hex');
}

/** UIDs referenced anywhere in a DICOM JSON object (Referenced SOP Instance UID, Referenced Series UID...). */
function referencedUids(json: unknown, into: Set<string>): void {
  if (Array.isArray(json)) {
    for (const item of json) referencedUids(item, into);
    return;
  }
  if (typeof json !== 'object' || json === null) return;
  for (const [tag, element] of Object.entries(json as Record<string, unknown>)) {
    if (typeof element !== 'object' || element === null) continue;
    const { vr, Value } = element as { vr?: unknown; Value?: unknown };
    if (vr === 'SQ') referencedUids(Value, into);
    else if ((tag === '00081155' || tag === '0020000E') && Array.isArray(Value)) {
      for (const value of Value) if (typeof value === 'string') into.add(value);
    }
  }
}

async function blobExists(blobs: BlobStore, key: string): Promise<boolean> {
  try {
    await blobs.size(key);
    return true;
  } catch (error) {
    const code = typeof error === 'object' && error !== null ? ((error as { code?: unknown; name?: unknown }).code ?? (error as { name?: unknown }).name) : null;
    if (code === 'ENOENT' || code === 'NotFound' || code === 'NoSuchKey') return false;
    throw error;
  }
}

export interface DestructionRequest {
  readonly albumId: string;
  /** Destroy only this study of the album (its own destruction date); the album and its other studies stay. */
  readonly studyInstanceUID?: string | undefined;
  readonly actorId: string;
  readonly tokenId: string | null;
  readonly reason: string;
  readonly clientAddress: string | null;
}

export interface DestructionDeps {
  readonly identity: IdentityStore;
  readonly index: DicomIndex;
  readonly blobs: BlobStore;
  readonly audit: AuditLog;
  readonly signer: AuditSigner;
  readonly dataDir: string;
}

/**
 * Destroys an album at the end of its ethics approval: every series reachable only through it, the derived objects
 * (SEG, SR...) in the same studies that reference its instances and that no other album holds, their blobs and
 * index rows. Then it scans to prove nothing remains and writes a signed certificate and an audit entry.
 * Re-running after a crash finishes the work (every step is idempotent).
 */
export async function destroyAlbum(
  deps: DestructionDeps,
  request: DestructionRequest,
): Promise<DestructionCertificate> {
  const { identity, index, blobs } = deps;
  const album = await identity.getAlbum(request.albumId);
  if (album === null || album.destroyedAt !== null) throw new AppError('NOT_FOUND', [{ path: 'album', issue: 'no such album, or already destroyed' }]);
  const onlyStudy = request.studyInstanceUID;

  const destroy: Array<{ scope: Scope; derived: boolean }> = [];
  const retained: Array<{ studyHash: string; seriesHash: string; heldByAlbums: number }> = [];
  const albumSeries = (await identity.listAlbumSeries(album.id)).filter((s) => onlyStudy === undefined || s.studyInstanceUID === onlyStudy);
  if (onlyStudy !== undefined && albumSeries.length === 0) throw new AppError('NOT_FOUND', [{ path: 'study', issue: 'this study is not in the album' }]);
  for (const { studyInstanceUID, seriesInstanceUID } of albumSeries) {
    const others = (await identity.albumsHoldingSeries(studyInstanceUID, seriesInstanceUID)).filter((id) => id !== album.id);
    if (others.length > 0) retained.push({ studyHash: hashUid(studyInstanceUID), seriesHash: hashUid(seriesInstanceUID), heldByAlbums: others.length });
    else destroy.push({ scope: { study: studyInstanceUID, series: seriesInstanceUID }, derived: false });
  }

  // Derived objects: instances of the same studies, outside the destroyed series, that reference destroyed data.
  const destroyedSeries = new Set(destroy.map((d) => d.scope.series));
  const destroyedInstances = new Set<string>();
  for (const { scope } of destroy) for (const row of await index.instances(scope)) destroyedInstances.add(row.sopInstanceUID);
  const studies = new Set(destroy.map((d) => d.scope.study));
  for (const study of studies) {
    for (const row of await index.instances({ study })) {
      if (destroyedSeries.has(row.seriesUID)) continue;
      if ((await identity.albumsHoldingSeries(study, row.seriesUID)).some((id) => id !== album.id)) continue;
      const [meta] = await index.metadata({ study, series: row.seriesUID, instance: row.sopInstanceUID });
      const refs = new Set<string>();
      if (meta !== undefined) referencedUids(JSON.parse(meta.json) as unknown, refs);
      if ([...refs].some((uid) => destroyedInstances.has(uid) || destroyedSeries.has(uid))) {
        destroy.push({ scope: { study, series: row.seriesUID, instance: row.sopInstanceUID }, derived: true });
      }
    }
  }

  const destroyedAt = new Date().toISOString();
  const items: Array<DestructionCertificate['series'][number]> = [];
  const allBlobKeys: string[] = [];
  for (const { scope, derived } of destroy) {
    const rows = await index.instances(scope);
    const keys = rows.map((row) => row.blobKey);
    allBlobKeys.push(...keys);
    const unreferenced = await index.delete(scope);
    await blobs.delete([...new Set([...unreferenced, ...(await index.unreferenced(keys))])]);
    items.push({
      studyHash: hashUid(scope.study),
      seriesHash: hashUid(scope.series ?? ''),
      instanceHashes: rows.map((row) => hashUid(row.sopInstanceUID)).sort(),
      derived,
    });
  }
  if (onlyStudy === undefined) await identity.markAlbumDestroyed(album.id, new Date(destroyedAt));
  else {
    for (const { studyInstanceUID, seriesInstanceUID } of albumSeries) await identity.removeSeries(album.id, studyInstanceUID, seriesInstanceUID, request.actorId);
    await identity.markStudyDestroyed(album.id, onlyStudy, new Date(destroyedAt));
  }

  // Verification scan: no index row and no blob may remain for what was destroyed.
  const problems: string[] = [];
  for (const { scope } of destroy) {
    const left = await index.instances(scope);
    if (left.length > 0) problems.push(`${left.length} index rows remain for series ${hashUid(scope.series ?? '').slice(0, 12)}…`);
  }
  for (const key of new Set(allBlobKeys)) {
    if ((await index.unreferenced([key])).length === 1 && (await blobExists(blobs, key))) problems.push(`a blob remains in storage (${hashUid(key).slice(0, 12)}…)`);
  }

  const unsigned: DestructionCertificate = {
    certificateId: randomUUID(),
    version: 1,
    album: { id: album.id, name: album.name, ethicsProtocol: album.ethicsProtocol, destructionDate: album.destructionDate },
    scope: onlyStudy === undefined ? 'album' : 'study',
    studyHash: onlyStudy === undefined ? null : hashUid(onlyStudy),
    destroyedAt,
    destroyedBy: request.actorId,
    reason: request.reason,
    storage: { blobs: blobs.kind, index: index.kind },
    series: items,
    retainedSeries: retained,
    totals: { series: items.filter((i) => !i.derived).length, instances: items.reduce((n, i) => n + i.instanceHashes.length, 0), blobs: new Set(allBlobKeys).size },
    verification: { ok: problems.length === 0, checkedAt: new Date().toISOString(), problems },
  };
  const certificate: DestructionCertificate = { ...unsigned, signature: deps.signer.sign(canonicalCertificate(unsigned)) };
  writeFileDurably(join(deps.dataDir, 'certificates', `destruction-${certificate.certificateId}.json`), `${JSON.stringify(certificate, null, 2)}\n`);
  await deps.audit.append({
    action: 'destruction.certify',
    outcome: problems.length === 0 ? 'success' : 'failed',
    actorId: request.actorId,
    tokenId: request.tokenId,
    albumId: album.id,
    studyInstanceUID: onlyStudy ?? null,
    seriesInstanceUID: null,
    sopInstanceUID: null,
    httpStatus: null,
    clientAddress: request.clientAddress,
    requestId: null,
    detail: { certificateId: certificate.certificateId, scope: certificate.scope, series: certificate.totals.series, instances: certificate.totals.instances },
  });
  return certificate;
}

/** The signed bytes: the certificate without its signature, keys in a fixed order. */
export function canonicalCertificate(certificate: DestructionCertificate): string {
  const { signature: _signature, ...rest } = certificate;
  return JSON.stringify(rest, Object.keys(flattenKeys(rest)).sort());
}

function flattenKeys(value: unknown, keys: Record<string, true> = {}): Record<string, true> {
  if (Array.isArray(value)) for (const item of value) flattenKeys(item, keys);
  else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      keys[key] = true;
      flattenKeys(item, keys);
    }
  }
  return keys;
}
