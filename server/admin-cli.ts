import { userInfo } from 'node:os';
import { createWriteStream } from 'node:fs';
import { readFile, rename, open } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { AuditLog, auditPaths } from './audit/audit-log.js';
import type { AuditEvent } from './audit/audit-entry.js';
import { exportAuditNdjson } from './audit/audit-export.js';
import { verifyAuditTrail } from './audit/audit-verify.js';
import { IdentityStore } from './auth/identity-store.js';
import type { TokenPermission } from '../shared/domain/access.js';
import { parseExpiry, parsePermissionList } from './auth/permissions.js';

/**
 * Administration from the machine that holds the data folder (the embedded default has no IdP): users, albums,
 * tokens and the audit trail. Every change is itself written to the audit trail, with the operating-system user.
 */
export const adminUsage = `Administration (same data folder as "serve"):
  paradim-server user create   --data DIR --name NAME [--admin]
  paradim-server album create  --data DIR --name NAME [--description T] [--ethics-protocol P]
                               [--approval-expiry DATE] [--destruction-date DATE] [--admin-user NAME]
  paradim-server album list    --data DIR
  paradim-server token create  --data DIR --user NAME [--album ID] --permissions read,write,download
                               [--expires 7d|12h|DATE] [--not-before DATE] [--label TEXT] [--machine]
                               prints the token secret alone on stdout (shown once)
  paradim-server token revoke  --data DIR <token secret or id>
  paradim-server token list    --data DIR [--user NAME]
  paradim-server audit verify  --data DIR [--public-key FILE]   exit 0 only when the trail is intact
  paradim-server audit export  --data DIR [--out FILE]          NDJSON, OpenSearch bulk format
  paradim-server audit public-key --data DIR
Environment: PARADIM_DATA_DIR instead of --data; DATABASE_URL when the server runs on PostgreSQL;
PARADIM_AUDIT_KEY_FILE for the checkpoint signing key.
`;

export class UsageError extends Error {}

const common = { data: { type: 'string' as const } };

function dataDirOf(values: { data?: string | undefined }): string {
  const dir = values.data ?? process.env.PARADIM_DATA_DIR;
  if (dir === undefined || dir === '') throw new UsageError('--data DIR is required (or set PARADIM_DATA_DIR)');
  return dir;
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value.trim() === '') throw new UsageError(`${flag} is required`);
  return value;
}

function dateOption(value: string | undefined, flag: string): string | null {
  if (value === undefined) return null;
  if (Number.isNaN(new Date(value).getTime())) throw new UsageError(`${flag} must be a date such as 2031-12-31; got "${value}"`);
  return value;
}

async function withStores<T>(dataDir: string, work: (identity: IdentityStore, record: (event: Partial<AuditEvent> & Pick<AuditEvent, 'action'>) => Promise<void>) => Promise<T>): Promise<T> {
  const identity = await IdentityStore.open({ dataDir, databaseUrl: databaseUrl() });
  const audit = await AuditLog.open(auditPaths(dataDir, process.env.PARADIM_AUDIT_KEY_FILE, databaseUrl()));
  const actor = `cli:${userInfo().username}`;
  const record = async (event: Partial<AuditEvent> & Pick<AuditEvent, 'action'>): Promise<void> => {
    await audit.append({
      outcome: 'success',
      actorId: actor,
      tokenId: null,
      albumId: null,
      studyInstanceUID: null,
      seriesInstanceUID: null,
      sopInstanceUID: null,
      httpStatus: null,
      clientAddress: 'local-cli',
      requestId: null,
      detail: null,
      ...event,
    });
  };
  try {
    return await work(identity, record);
  } finally {
    await audit.close();
    await identity.close();
  }
}

/** The same PostgreSQL as `serve` when the server runs at scale (DATABASE_URL); the embedded SQLite files otherwise. */
function databaseUrl(): string | undefined {
  const url = process.env.DATABASE_URL;
  return url === undefined || url === '' ? undefined : url;
}

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

async function userCommand(sub: string | undefined, args: string[]): Promise<number> {
  if (sub !== 'create') throw new UsageError(`unknown user command "${sub ?? ''}"`);
  const { values } = parseArgs({ args, options: { ...common, name: { type: 'string' }, admin: { type: 'boolean', default: false } } });
  const name = required(values.name, '--name');
  return withStores(dataDirOf(values), async (identity, record) => {
    const user = await identity.ensureLocalUser(name, { isAdmin: values.admin });
    await record({ action: 'user.provision', detail: { userId: user.id, admin: user.isAdmin } });
    out(user.id);
    return 0;
  });
}

async function albumCommand(sub: string | undefined, args: string[]): Promise<number> {
  if (sub === 'list') {
    const { values } = parseArgs({ args, options: common });
    return withStores(dataDirOf(values), async (identity) => {
      for (const album of await identity.listAlbums()) out(`${album.id}\t${album.name}\t${album.ethicsProtocol ?? ''}\t${album.destructionDate ?? ''}`);
      return 0;
    });
  }
  if (sub !== 'create') throw new UsageError(`unknown album command "${sub ?? ''}"`);
  const { values } = parseArgs({
    args,
    options: {
      ...common,
      name: { type: 'string' },
      description: { type: 'string' },
      'ethics-protocol': { type: 'string' },
      'approval-expiry': { type: 'string' },
      'destruction-date': { type: 'string' },
      'admin-user': { type: 'string' },
    },
  });
  const name = required(values.name, '--name');
  const approvalExpiry = dateOption(values['approval-expiry'], '--approval-expiry');
  const destructionDate = dateOption(values['destruction-date'], '--destruction-date');
  return withStores(dataDirOf(values), async (identity, record) => {
    const admin = values['admin-user'] === undefined ? null : await identity.ensureLocalUser(values['admin-user']);
    const album = await identity.createAlbum({
      name,
      description: values.description ?? null,
      ethicsProtocol: values['ethics-protocol'] ?? null,
      approvalExpiry,
      destructionDate,
      adminUserId: admin?.id ?? null,
    });
    await record({ action: 'album.create', albumId: album.id });
    out(album.id);
    return 0;
  });
}

async function tokenCommand(sub: string | undefined, args: string[]): Promise<number> {
  if (sub === 'revoke') {
    const { values, positionals } = parseArgs({ args, options: common, allowPositionals: true });
    const target = required(positionals[0], 'the token secret or id');
    return withStores(dataDirOf(values), async (identity, record) => {
      const revoked = await identity.revokeToken(target);
      if (!revoked) {
        process.stderr.write('No active token with that secret or id.\n');
        return 1;
      }
      const id = /^pdw_([0-9a-f]{16})_/.exec(target)?.[1] ?? target;
      await record({ action: 'token.revoke', tokenId: id });
      process.stderr.write(`Token ${id} revoked.\n`);
      return 0;
    });
  }
  if (sub === 'list') {
    const { values } = parseArgs({ args, options: { ...common, user: { type: 'string' } } });
    return withStores(dataDirOf(values), async (identity) => {
      const user = values.user === undefined ? null : await identity.findUser('local', values.user);
      const tokens = await identity.listTokens(user === null ? {} : { userId: user.id });
      for (const token of tokens) {
        const state = token.revokedAt !== null ? 'revoked' : token.expiresAt !== null && new Date(token.expiresAt) <= new Date() ? 'expired' : 'active';
        out([token.id, state, token.userId, token.albumId ?? '-', token.permissions.join(','), token.expiresAt ?? '-', token.lastUsedAt ?? 'never'].join('\t'));
      }
      return 0;
    });
  }
  if (sub !== 'create') throw new UsageError(`unknown token command "${sub ?? ''}"`);
  const { values } = parseArgs({
    args,
    options: {
      ...common,
      user: { type: 'string' },
      album: { type: 'string' },
      permissions: { type: 'string' },
      expires: { type: 'string' },
      'not-before': { type: 'string' },
      label: { type: 'string' },
      machine: { type: 'boolean', default: false },
    },
  });
  const userName = required(values.user, '--user');
  let permissions: TokenPermission[];
  let expiresAt: Date | null = null;
  try {
    permissions = parsePermissionList(required(values.permissions, '--permissions'));
    if (values.expires !== undefined) expiresAt = parseExpiry(values.expires);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const notBefore = dateOption(values['not-before'], '--not-before');
  return withStores(dataDirOf(values), async (identity, record) => {
    const user = await identity.ensureLocalUser(userName);
    if (values.album !== undefined) {
      const album = await identity.getAlbum(values.album);
      if (album === null || album.destroyedAt !== null) {
        process.stderr.write(`No album with id ${values.album}.\n`);
        return 2;
      }
      if (await identity.getMember(album.id, user.id) === null) {
        await identity.addMember(album.id, user.id, { flags: { download: permissions.includes('download'), addSeries: permissions.includes('write') } });
        await record({ action: 'album.member-add', albumId: album.id, detail: { userId: user.id } });
        process.stderr.write(`${userName} was added to album "${album.name}" as a member.\n`);
      }
    }
    const { token, secret } = await identity.createToken({
      userId: user.id,
      albumId: values.album ?? null,
      permissions,
      kind: values.machine ? 'machine' : 'personal',
      label: values.label ?? null,
      notBefore: notBefore === null ? null : new Date(notBefore),
      expiresAt,
    });
    await record({ action: 'token.create', tokenId: token.id, albumId: token.albumId });
    out(secret);
    return 0;
  });
}

async function auditCommand(sub: string | undefined, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { ...common, out: { type: 'string' }, 'public-key': { type: 'string' } } });
  const paths = auditPaths(dataDirOf(values), process.env.PARADIM_AUDIT_KEY_FILE, databaseUrl());
  if (sub === 'verify') {
    const publicKey = values['public-key'] === undefined ? undefined : await readFile(values['public-key'], 'utf8');
    const result = await verifyAuditTrail(paths, publicKey);
    if (result.ok) {
      out(`Audit trail intact: ${result.entries} entries, ${result.checkpoints} signed checkpoints, last entry ${result.lastSeq}.`);
      return 0;
    }
    process.stderr.write(`Audit trail NOT intact (${result.entries} entries read):\n${result.problems.map((p) => `  - ${p}`).join('\n')}\n`);
    return 1;
  }
  if (sub === 'export') {
    if (values.out === undefined) {
      for await (const line of exportAuditNdjson(paths)) {
        if (!process.stdout.write(line)) await new Promise<void>((resolve) => process.stdout.once('drain', () => resolve()));
      }
      return 0;
    }
    const temp = `${values.out}.${process.pid}.tmp`;
    const stream = createWriteStream(temp, { mode: 0o600 });
    for await (const line of exportAuditNdjson(paths)) {
      if (!stream.write(line)) await new Promise<void>((resolve) => stream.once('drain', () => resolve()));
    }
    await new Promise<void>((resolve, reject) => stream.end((error?: Error | null) => (error == null ? resolve() : reject(error))));
    const handle = await open(temp, 'r');
    await handle.sync();
    await handle.close();
    await rename(temp, values.out);
    process.stderr.write(`Audit trail exported to ${values.out}.\n`);
    return 0;
  }
  if (sub === 'public-key') {
    const log = await AuditLog.open(paths);
    out(log.publicKeyPem);
    await log.close();
    return 0;
  }
  throw new UsageError(`unknown audit command "${sub ?? ''}"`);
}

export const adminCommands = new Set(['user', 'album', 'token', 'audit']);

/** Runs `<group> <command> ...`; returns the exit code (2 for usage errors, with the usage on stderr). */
export async function runAdminCommand(argv: readonly string[]): Promise<number> {
  const [group, sub, ...rest] = argv;
  try {
    switch (group) {
      case 'user':
        return await userCommand(sub, rest);
      case 'album':
        return await albumCommand(sub, rest);
      case 'token':
        return await tokenCommand(sub, rest);
      case 'audit':
        return await auditCommand(sub, rest);
      default:
        throw new UsageError(`unknown command "${group ?? ''}"`);
    }
  } catch (error) {
    if (error instanceof UsageError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`${error.message}\n\n${adminUsage}`);
      return 2;
    }
    throw error;
  }
}
