import { toHex, type DeidCrypto } from './crypto.js';
import type { DeidProfile } from './profile.js';

// Kept apart from the zod schema (profile.ts) so that the engine and its worker threads do not load zod.

/** The options of PS3.15 Annex E, each with its CID 7050 code. */
export const deidOptionCodes = {
  cleanPixelData: ['113101', 'Clean Pixel Data Option'],
  cleanRecognizableVisualFeatures: ['113102', 'Clean Recognizable Visual Features Option'],
  cleanGraphics: ['113103', 'Clean Graphics Option'],
  cleanStructuredContent: ['113104', 'Clean Structured Content Option'],
  cleanDescriptors: ['113105', 'Clean Descriptors Option'],
  retainLongitudinalFullDates: ['113106', 'Retain Longitudinal Temporal Information Full Dates Option'],
  retainLongitudinalModifiedDates: ['113107', 'Retain Longitudinal Temporal Information Modified Dates Option'],
  retainPatientCharacteristics: ['113108', 'Retain Patient Characteristics Option'],
  retainDeviceIdentity: ['113109', 'Retain Device Identity Option'],
  retainUids: ['113110', 'Retain UIDs Option'],
  retainSafePrivate: ['113111', 'Retain Safe Private Option'],
  retainInstitutionIdentity: ['113112', 'Retain Institution Identity Option'],
} as const;
export type DeidOption = keyof typeof deidOptionCodes;
export const basicProfileCode = ['113100', 'Basic Application Confidentiality Profile'] as const;

/** Canonical JSON: keys sorted, no whitespace. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** `sha256:<hex>` of the canonical JSON of the validated profile (defaults filled in). */
export function profileDigest(profile: DeidProfile, crypto: DeidCrypto): string {
  return `sha256:${toHex(crypto.sha256(new TextEncoder().encode(canonicalJson(profile))))}`;
}
