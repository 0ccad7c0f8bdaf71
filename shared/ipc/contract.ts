import { z } from 'zod';

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

export const channels = {
  'app.getInfo': { input: empty, output: appInfoSchema },
  'settings.get': { input: empty, output: settingsSchema },
  'settings.update': { input: settingsPatchSchema, output: settingsSchema },
  'server.getStatus': { input: empty, output: serverStatusSchema },
  'server.checkNow': { input: empty, output: serverStatusSchema },
} as const satisfies Record<string, { input: z.ZodType; output: z.ZodType }>;

/** Main → renderer pushes. */
export const events = {
  'server.status': serverStatusSchema,
  'task.progress': taskProgressSchema,
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

export function isChannelName(value: unknown): value is ChannelName {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(channels, value);
}

export function isEventName(value: unknown): value is EventName {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(events, value);
}
