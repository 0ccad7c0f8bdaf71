import { z } from 'zod';
import { memberFlagsSchema, tokenPermissionSchema, tokenSecretPattern } from '../domain/access.js';

/**
 * The one IPC contract between the workstation window (renderer) and its services (main).
 * Electron IPC and the browser shell's WebSocket carry exactly these channels and events;
 * main validates every input against these schemas before a service sees it.
 */

const httpUrl = z
  .string()
  .trim()
  .max(2048, 'is longer than 2048 characters')
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === '';
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// address without a user name or password');

export const shellKindSchema = z.enum(['electron', 'browser']);

export const appInfoSchema = z.strictObject({
  productName: z.string(),
  version: z.string(),
  shell: shellKindSchema,
  platform: z.string(),
  runtimeVersions: z.record(z.string(), z.string()),
});

export const settingsSchema = z.strictObject({
  /** Companion server base URL chosen by the user; null means the embedded server started with the workstation. */
  serverUrl: httpUrl.nullable(),
});

export const settingsPatchSchema = settingsSchema.partial().strict();

export const serverStatusSchema = z.strictObject({
  url: z.string().nullable(),
  state: z.enum(['unknown', 'online', 'offline']),
  serverVersion: z.string().nullable(),
  /** Plain-language reason when offline. */
  reason: z.string().nullable(),
  checkedAt: z.string().nullable(),
});

export const taskProgressSchema = z.strictObject({
  taskId: z.string(),
  label: z.string(),
  done: z.number().int().nonnegative(),
  total: z.number().int().nonnegative().nullable(),
  bytesDone: z.number().nonnegative(),
  state: z.enum(['running', 'done', 'failed', 'cancelled']),
});

const empty = z.strictObject({});
const uuid = z.string().uuid('is not a valid id');
const isoDate = z.string().refine((value) => !Number.isNaN(Date.parse(value)), 'is not a date');

export const sessionUserSchema = z.strictObject({
  id: z.string(),
  name: z.string().nullable(),
  email: z.string().nullable(),
  isAdmin: z.boolean(),
});

export const sessionSchema = z.strictObject({
  state: z.enum(['signed-out', 'signed-in']),
  method: z.enum(['token', 'sso']).nullable(),
  serverUrl: z.string().nullable(),
  user: sessionUserSchema.nullable(),
  /** Whether the server names an identity provider for single sign-on. */
  ssoAvailable: z.boolean(),
});

export const albumSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  ethicsProtocol: z.string().nullable(),
  approvalExpiry: z.string().nullable(),
  destructionDate: z.string().nullable(),
  createdAt: z.string(),
});

export const albumSummarySchema = albumSchema.extend({
  studies: z.number().int().nonnegative(),
  series: z.number().int().nonnegative(),
  modalities: z.array(z.string()),
  lastEvent: z.object({ type: z.string(), time: z.string() }).nullable(),
});

export const albumInputSchema = z.strictObject({
  name: z.string().trim().min(1, 'is required').max(200),
  description: z.string().max(4000).nullable().optional(),
  ethicsProtocol: z.string().max(200).nullable().optional(),
  approvalExpiry: isoDate.nullable().optional(),
  destructionDate: isoDate.nullable().optional(),
});

export const memberSchema = z.object({
  userId: z.string(),
  isAdmin: z.boolean(),
  flags: memberFlagsSchema,
  addedAt: z.string(),
  user: z.object({ id: z.string(), name: z.string().nullable(), email: z.string().nullable() }).nullable(),
});

export const tokenSchema = z.object({
  id: z.string(),
  userId: z.string(),
  albumId: z.string().nullable(),
  kind: z.enum(['personal', 'machine']),
  label: z.string().nullable(),
  permissions: z.array(tokenPermissionSchema),
  notBefore: z.string().nullable(),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  createdAt: z.string(),
  state: z.enum(['active', 'expired', 'revoked']),
});

export const destructionCertificateSchema = z.object({
  certificateId: z.string(),
  album: z.object({ id: z.string(), name: z.string(), ethicsProtocol: z.string().nullable(), destructionDate: z.string().nullable() }),
  scope: z.enum(['album', 'study']),
  studyHash: z.string().nullable(),
  destroyedAt: z.string(),
  destroyedBy: z.string(),
  reason: z.string(),
  storage: z.object({ blobs: z.string(), index: z.string() }),
  series: z.array(z.object({ studyHash: z.string(), seriesHash: z.string(), instanceHashes: z.array(z.string()), derived: z.boolean() })),
  retainedSeries: z.array(z.object({ studyHash: z.string(), seriesHash: z.string(), heldByAlbums: z.number() })),
  totals: z.object({ series: z.number(), instances: z.number(), blobs: z.number() }),
  verification: z.object({ ok: z.boolean(), checkedAt: z.string(), problems: z.array(z.string()) }),
  signature: z.string(),
});

const localPath = z.string().trim().min(1, 'choose a folder').max(4096).refine((value) => !value.includes('\0'), 'is not a valid path');

export const importScanSchema = z.object({
  folder: z.string(),
  files: z.number(),
  dicomFiles: z.number(),
  directories: z.number(),
  bytes: z.number(),
  sampleFile: z.string().nullable(),
  unreadable: z.array(z.object({ path: z.string(), reason: z.string() })),
  unreadableCount: z.number(),
  patients: z.array(
    z.object({
      patientId: z.string(),
      patientName: z.string(),
      studies: z.array(
        z.object({
          studyInstanceUID: z.string(),
          studyDate: z.string(),
          studyDescription: z.string(),
          series: z.array(
            z.object({
              seriesInstanceUID: z.string(),
              modality: z.string(),
              seriesDescription: z.string(),
              files: z.number(),
              bytes: z.number(),
              burnedInAnnotation: z.boolean(),
            }),
          ),
        }),
      ),
    }),
  ),
});

export const builtinProfileIds = ['basic', 'longitudinal', 'research'] as const;
export const importProfileRefSchema = z.union([
  z.strictObject({ builtin: z.enum(builtinProfileIds) }),
  z.strictObject({ file: localPath }),
]);

export const importProfileSchema = z.object({
  id: z.enum(builtinProfileIds),
  name: z.string(),
  description: z.string(),
  options: z.array(z.string()),
});

export const importPreviewSchema = z.object({
  file: z.string(),
  status: z.string(),
  reason: z.string().nullable(),
  profile: z.object({ name: z.string(), version: z.string(), digest: z.string() }),
  rows: z.array(z.object({ tag: z.string(), keyword: z.string(), before: z.string(), after: z.string(), action: z.string() })),
});

export const importSummarySchema = z.object({
  taskId: z.string(),
  output: z.string(),
  reportsDir: z.string(),
  counts: z.record(z.string(), z.number()),
  filesTotal: z.number(),
  bytesIn: z.number(),
  elapsedMs: z.number(),
  cancelled: z.boolean(),
  problems: z.array(z.object({ input: z.string(), status: z.string(), code: z.string(), reason: z.string() })),
  profile: z.object({ name: z.string(), version: z.string(), digest: z.string() }),
});

export const accessReviewSchema = z.object({
  album: z.object({ id: z.string(), name: z.string(), ethicsProtocol: z.string().nullable() }),
  generatedAt: z.string(),
  dormantAfterDays: z.number(),
  members: z.array(
    z.object({
      userId: z.string(),
      name: z.string().nullable(),
      email: z.string().nullable(),
      role: z.enum(['admin', 'member']),
      lastSeenAt: z.string().nullable(),
      dormant: z.boolean(),
      tokens: z.array(tokenSchema),
    }),
  ),
  tokensOfFormerMembers: z.array(tokenSchema),
});

export const tokenExpiryChoices = ['1d', '7d', '30d', '90d', '365d'] as const;

export const channels = {
  'app.getInfo': { input: empty, output: appInfoSchema },
  'settings.get': { input: empty, output: settingsSchema },
  'settings.update': { input: settingsPatchSchema, output: settingsSchema },
  'server.getStatus': { input: empty, output: serverStatusSchema },
  'server.checkNow': { input: empty, output: serverStatusSchema },
  'session.get': { input: empty, output: sessionSchema },
  'session.signInWithToken': {
    input: z.strictObject({ token: z.string().trim().regex(tokenSecretPattern, 'is not a PARADIM access token (they start with pdw_)') }),
    output: sessionSchema,
  },
  'session.signInWithSso': { input: empty, output: sessionSchema },
  'session.signOut': { input: empty, output: sessionSchema },
  'albums.list': { input: empty, output: z.array(albumSummarySchema) },
  'albums.create': { input: albumInputSchema, output: albumSchema },
  'albums.members': { input: z.strictObject({ albumId: uuid }), output: z.array(memberSchema) },
  'albums.setMember': {
    input: z.strictObject({ albumId: uuid, userId: uuid, isAdmin: z.boolean(), flags: memberFlagsSchema }),
    output: memberSchema.omit({ user: true }),
  },
  'albums.invite': {
    input: z.strictObject({
      albumId: uuid,
      user: z.string().trim().min(1, 'enter an e-mail or user name').max(320),
      isAdmin: z.boolean(),
      flags: memberFlagsSchema,
    }),
    output: memberSchema,
  },
  'albums.destroy': {
    input: z.strictObject({ albumId: uuid, confirmName: z.string(), reason: z.string().trim().min(1, 'give the reason (e.g. end of ethics approval)').max(500) }),
    output: destructionCertificateSchema,
  },
  'albums.accessReview': { input: z.strictObject({ albumId: uuid }), output: accessReviewSchema },
  'albums.removeMember': { input: z.strictObject({ albumId: uuid, userId: uuid }), output: empty },
  'import.profiles': { input: empty, output: z.array(importProfileSchema) },
  'import.scan': { input: z.strictObject({ folder: localPath }), output: importScanSchema },
  'import.preview': { input: z.strictObject({ folder: localPath, file: z.string().max(4096), profile: importProfileRefSchema }), output: importPreviewSchema },
  'import.start': {
    input: z.strictObject({ folder: localPath, output: localPath, profile: importProfileRefSchema }),
    output: z.strictObject({ taskId: z.string() }),
  },
  'import.cancel': { input: z.strictObject({ taskId: z.string().max(64) }), output: empty },
  'import.push': {
    input: z.strictObject({ folder: localPath, albumId: uuid }),
    output: z.strictObject({ stored: z.number().int().nonnegative(), failed: z.array(z.object({ file: z.string(), reason: z.string() })) }),
  },
  'import.exportMap': {
    input: z.strictObject({
      profile: importProfileRefSchema,
      destination: localPath,
      passphrase: z.string().min(12, 'use at least 12 characters').max(1024),
    }),
    output: z.strictObject({ patients: z.number().int().nonnegative() }),
  },
  'tokens.list': { input: empty, output: z.array(tokenSchema) },
  'tokens.create': {
    input: z.strictObject({
      albumId: uuid.nullable(),
      permissions: z.array(tokenPermissionSchema).min(1, 'choose at least one permission'),
      expiresIn: z.enum(tokenExpiryChoices),
      label: z.string().trim().max(200).nullable(),
    }),
    output: z.strictObject({ token: tokenSchema, secret: z.string() }),
  },
  'tokens.revoke': { input: z.strictObject({ tokenId: z.string().regex(/^[0-9a-f]{16}$/, 'is not a token id') }), output: empty },
} as const satisfies Record<string, { input: z.ZodType; output: z.ZodType }>;

/** Main → renderer pushes. */
export const events = {
  'server.status': serverStatusSchema,
  'task.progress': taskProgressSchema,
  'session.changed': sessionSchema,
  'import.finished': z.union([importSummarySchema, z.object({ taskId: z.string(), error: z.object({ code: z.string(), message: z.string(), details: z.array(z.object({ path: z.string(), issue: z.string() })) }) })]),
  /** In the browser shell, the window opens this address (the identity provider's sign-in page) in a new tab. */
  'session.openExternal': z.strictObject({ url: z.string().url() }),
} as const satisfies Record<string, z.ZodType>;

export type Channels = typeof channels;
export type ChannelName = keyof Channels;
export type ChannelInput<C extends ChannelName> = z.input<Channels[C]['input']>;
export type ChannelOutput<C extends ChannelName> = z.output<Channels[C]['output']>;
export type EventName = keyof typeof events;
export type EventPayload<E extends EventName> = z.output<(typeof events)[E]>;

export type AppInfo = z.output<typeof appInfoSchema>;
export type Settings = z.output<typeof settingsSchema>;
export type ServerStatus = z.output<typeof serverStatusSchema>;
export type TaskProgress = z.output<typeof taskProgressSchema>;
export type Session = z.output<typeof sessionSchema>;
export type AlbumSummary = z.output<typeof albumSummarySchema>;
export type Member = z.output<typeof memberSchema>;
export type TokenInfo = z.output<typeof tokenSchema>;
export type DestructionCertificate = z.output<typeof destructionCertificateSchema>;
export type AccessReview = z.output<typeof accessReviewSchema>;
export type ImportScan = z.output<typeof importScanSchema>;
export type ImportProfile = z.output<typeof importProfileSchema>;
export type ImportPreview = z.output<typeof importPreviewSchema>;
export type ImportSummary = z.output<typeof importSummarySchema>;
export type ImportProfileRef = z.output<typeof importProfileRefSchema>;

export function isChannelName(value: unknown): value is ChannelName {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(channels, value);
}

export function isEventName(value: unknown): value is EventName {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(events, value);
}
