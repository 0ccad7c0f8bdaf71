// zod/mini: the same validation as zod's classic API, a small part of its code in the bundle (the CLI starts faster:
// loading the whole classic API took about 60 ms of every run). It loads no messages of its own: English here.
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { AppError } from '../errors/app-error.js';
import { deidOptionCodes, type DeidOption } from './profile-codes.js';

export { basicProfileCode, canonicalJson, deidOptionCodes, profileDigest, type DeidOption } from './profile-codes.js';

z.config(en());

const tagPattern = /^\(?[0-9A-Fa-f]{4},?[0-9A-Fa-f]{4}\)?$/;

/** A string of `min` to `max` characters. */
const text = (min: number, max: number) => z.string().check(z.minLength(min), z.maxLength(max));
const uidList = () => z._default(z.array(z.string().check(z.regex(/^[0-9.]+$/))), []);
const days = () => z.int().check(z.minimum(-36500), z.maximum(36500));
const positiveInt = () => z.int().check(z.positive());

const allOff = () => Object.fromEntries(Object.keys(deidOptionCodes).map((key) => [key, false])) as Record<DeidOption, boolean>;

const optionsSchema = z
  .strictObject(Object.fromEntries(Object.keys(deidOptionCodes).map((key) => [key, z._default(z.boolean(), false)])) as Record<DeidOption, z.ZodMiniDefault<z.ZodMiniBoolean>>)
  .check(
    z.refine((options) => !(options.retainLongitudinalFullDates && options.retainLongitudinalModifiedDates), {
      message: 'choose either Retain Longitudinal Temporal Information with Full Dates or with Modified Dates, not both',
    }),
  );

const rectangle = z.strictObject({ x: z.int().check(z.minimum(0)), y: z.int().check(z.minimum(0)), width: positiveInt(), height: positiveInt() });

/** A project profile (JSON or YAML on disk), versioned, identified by its digest in every report. */
export const deidProfileSchema = z.strictObject({
  schemaVersion: z._default(z.literal(1), 1),
  name: z._default(text(1, 64), 'Basic Application Confidentiality Profile'),
  version: z._default(text(1, 32), '1'),
  options: z._default(optionsSchema, allOff),
  /** Per-attribute overrides of the table: keep the value, remove it, empty it, or replace it with a fixed value. */
  overrides: z._default(
    z.array(
      z
        .strictObject({
          tag: z.string().check(z.regex(tagPattern, 'a tag such as (0010,0010)')),
          action: z.enum(['keep', 'remove', 'empty', 'replace']),
          value: z.optional(z.string().check(z.maxLength(64))),
        })
        .check(z.refine((entry) => (entry.action === 'replace') === (entry.value !== undefined), { message: 'value is required with replace, and only with replace' })),
    ),
    [],
  ),
  /** Retain Safe Private: private elements to keep, per private creator (element = low byte, 2 hex digits). */
  safePrivate: z._default(
    z.array(
      z.strictObject({
        creator: text(1, 64),
        group: z.optional(z.string().check(z.regex(/^[0-9A-Fa-f]{4}$/))),
        elements: z.array(z.string().check(z.regex(/^[0-9A-Fa-f]{2}$/))).check(z.minLength(1)),
      }),
    ),
    [],
  ),
  /** Pseudonym format: each `#` becomes a digit, e.g. `BT-#####`. */
  pseudonymFormat: z._default(
    z.string().check(z.minLength(1), z.maxLength(32), z.regex(/#/, 'needs at least one #'), z.regex(/^[A-Za-z0-9_#.-]+$/, 'letters, digits, _ . - and #')),
    'PAT-##########',
  ),
  /** Per-patient date shift range (days), used with Retain Longitudinal Temporal Information with Modified Dates. */
  dateShift: z._default(
    z.strictObject({ minDays: days(), maxDays: days() }).check(z.refine((shift) => shift.minDays <= shift.maxDays, { message: 'minDays must not exceed maxDays' })),
    { minDays: -3650, maxDays: -365 },
  ),
  clinicalTrial: z.optional(
    z.strictObject({
      sponsorName: text(1, 64),
      protocolId: text(1, 64),
      protocolName: z.optional(text(0, 64)),
      siteId: z.optional(text(0, 64)),
      siteName: z.optional(text(0, 64)),
      ethicsCommitteeName: z.optional(text(0, 64)),
      ethicsApprovalNumber: z.optional(text(0, 64)),
    }),
  ),
  /** SOP class policy. When `accept` is non-empty, other SOP classes are quarantined. */
  sopClasses: z._default(z.strictObject({ accept: uidList(), drop: uidList(), quarantine: uidList() }), { accept: [], drop: [], quarantine: [] }),
  /** Clean Pixel Data: rectangles blanked in native (uncompressed) pixel data of matching files. */
  pixelMasks: z._default(
    z.array(
      z.strictObject({
        modality: z.optional(z.string()),
        manufacturer: z.optional(z.string()),
        manufacturerModelName: z.optional(z.string()),
        rows: z.optional(positiveInt()),
        columns: z.optional(positiveInt()),
        rectangles: z.array(rectangle).check(z.minLength(1)),
      }),
    ),
    [],
  ),
});

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
