import { z } from 'zod';
import { AppError } from '../errors/app-error.js';
import { deidOptionCodes, type DeidOption } from './profile-codes.js';

export { basicProfileCode, canonicalJson, deidOptionCodes, profileDigest, type DeidOption } from './profile-codes.js';

const tagPattern = /^\(?[0-9A-Fa-f]{4},?[0-9A-Fa-f]{4}\)?$/;

const optionsSchema = z
  .object(Object.fromEntries(Object.keys(deidOptionCodes).map((key) => [key, z.boolean().default(false)])) as Record<DeidOption, z.ZodDefault<z.ZodBoolean>>)
  .strict()
  .refine((options) => !(options.retainLongitudinalFullDates && options.retainLongitudinalModifiedDates), {
    message: 'choose either Retain Longitudinal Temporal Information with Full Dates or with Modified Dates, not both',
  });

const rectangle = z.object({ x: z.number().int().min(0), y: z.number().int().min(0), width: z.number().int().positive(), height: z.number().int().positive() }).strict();

/** A project profile (JSON or YAML on disk), versioned, identified by its digest in every report. */
export const deidProfileSchema = z
  .object({
    schemaVersion: z.literal(1).default(1),
    name: z.string().min(1).max(64).default('Basic Application Confidentiality Profile'),
    version: z.string().min(1).max(32).default('1'),
    options: optionsSchema.default(Object.fromEntries(Object.keys(deidOptionCodes).map((key) => [key, false])) as Record<DeidOption, boolean>),
    /** Per-attribute overrides of the table: keep the value, remove it, empty it, or replace it with a fixed value. */
    overrides: z
      .array(
        z.object({ tag: z.string().regex(tagPattern, 'a tag such as (0010,0010)'), action: z.enum(['keep', 'remove', 'empty', 'replace']), value: z.string().max(64).optional() }).strict()
          .refine((entry) => (entry.action === 'replace') === (entry.value !== undefined), { message: 'value is required with replace, and only with replace' }),
      )
      .default([]),
    /** Retain Safe Private: private elements to keep, per private creator (element = low byte, 2 hex digits). */
    safePrivate: z
      .array(z.object({ creator: z.string().min(1).max(64), group: z.string().regex(/^[0-9A-Fa-f]{4}$/).optional(), elements: z.array(z.string().regex(/^[0-9A-Fa-f]{2}$/)).min(1) }).strict())
      .default([]),
    /** Pseudonym format: each `#` becomes a digit, e.g. `BT-#####`. */
    pseudonymFormat: z.string().min(1).max(32).regex(/#/, 'needs at least one #').regex(/^[A-Za-z0-9_#.-]+$/, 'letters, digits, _ . - and #').default('PAT-##########'),
    /** Per-patient date shift range (days), used with Retain Longitudinal Temporal Information with Modified Dates. */
    dateShift: z.object({ minDays: z.number().int().min(-36500).max(36500), maxDays: z.number().int().min(-36500).max(36500) }).strict()
      .refine((shift) => shift.minDays <= shift.maxDays, { message: 'minDays must not exceed maxDays' })
      .default({ minDays: -3650, maxDays: -365 }),
    clinicalTrial: z
      .object({
        sponsorName: z.string().min(1).max(64),
        protocolId: z.string().min(1).max(64),
        protocolName: z.string().max(64).optional(),
        siteId: z.string().max(64).optional(),
        siteName: z.string().max(64).optional(),
        ethicsCommitteeName: z.string().max(64).optional(),
        ethicsApprovalNumber: z.string().max(64).optional(),
      })
      .strict()
      .optional(),
    /** SOP class policy. When `accept` is non-empty, other SOP classes are quarantined. */
    sopClasses: z
      .object({ accept: z.array(z.string().regex(/^[0-9.]+$/)).default([]), drop: z.array(z.string().regex(/^[0-9.]+$/)).default([]), quarantine: z.array(z.string().regex(/^[0-9.]+$/)).default([]) })
      .strict()
      .default({ accept: [], drop: [], quarantine: [] }),
    /** Clean Pixel Data: rectangles blanked in native (uncompressed) pixel data of matching files. */
    pixelMasks: z
      .array(
        z.object({
          modality: z.string().optional(),
          manufacturer: z.string().optional(),
          manufacturerModelName: z.string().optional(),
          rows: z.number().int().positive().optional(),
          columns: z.number().int().positive().optional(),
          rectangles: z.array(rectangle).min(1),
        }).strict(),
      )
      .default([]),
  })
  .strict();

export type DeidProfile = z.infer<typeof deidProfileSchema>;
export type DeidProfileInput = z.input<typeof deidProfileSchema>;

/** Validates a profile (AppError DEID_PROFILE_INVALID with one detail per problem). */
export function parseDeidProfile(input: unknown): DeidProfile {
  const result = deidProfileSchema.safeParse(input);
  if (!result.success) {
    throw new AppError('DEID_PROFILE_INVALID', result.error.issues.map((issue) => ({ path: issue.path.join('.'), issue: issue.message })));
  }
  return result.data;
}
