import { z } from 'zod';
import { wireErrorSchema } from './envelope.js';

/**
 * Framing of the contract over a message transport (the browser shell's WebSocket).
 * Electron IPC uses its own invoke/reply pairing and needs only the envelope.
 */
export const wireSubprotocol = 'paradim-ipc.v1';
/** Prefix of the second WebSocket subprotocol, which carries the per-launch secret. */
export const wireSecretPrefix = 'secret.';

export const wireRequestSchema = z.strictObject({
  id: z.number().int().nonnegative(),
  channel: z.string().max(128),
  input: z.unknown(),
});

export const wireEnvelopeSchema = z.union([
  z.strictObject({ ok: z.literal(true), value: z.unknown() }),
  z.strictObject({ ok: z.literal(false), error: wireErrorSchema }),
]);

export const wireServerMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('result'), id: z.number().int().nonnegative(), envelope: wireEnvelopeSchema }),
  z.strictObject({ type: z.literal('event'), event: z.string(), payload: z.unknown() }),
]);

export type WireRequest = z.output<typeof wireRequestSchema>;
export type WireServerMessage = z.output<typeof wireServerMessageSchema>;
