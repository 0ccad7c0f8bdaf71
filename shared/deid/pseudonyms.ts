import { toHex, type DeidCrypto } from './crypto.js';

/**
 * Keyed, consistent replacements: HMAC-SHA-256 with the project key, one domain label per kind of value, so the same
 * key gives the same pseudonyms, UIDs and date offsets on any machine, in any batch, without a server.
 */
export class Pseudonymizer {
  private readonly uidCache = new Map<string, string>();
  private readonly patientCache = new Map<string, string>();
  private readonly offsetCache = new Map<string, number>();
  private readonly hashCache = new Map<string, string>();

  constructor(
    private readonly crypto: DeidCrypto,
    private readonly pseudonymFormat: string,
    private readonly dateShift: { readonly minDays: number; readonly maxDays: number },
  ) {}

  private mac(label: string, value: string): Uint8Array {
    return this.crypto.hmac(new TextEncoder().encode(`${label}\u0000${value}`));
  }

  /** `2.25.<decimal of 128 bits>`: at most 44 characters, well within the 64 allowed. */
  uid(original: string): string {
    const cached = this.uidCache.get(original);
    if (cached !== undefined) return cached;
    const digest = this.mac('uid', original);
    let value = 0n;
    for (let i = 0; i < 16; i++) value = (value << 8n) | BigInt(digest[i] ?? 0);
    const uid = `2.25.${value === 0n ? 1n : value}`;
    if (this.uidCache.size > 10_000) this.uidCache.clear();
    this.uidCache.set(original, uid);
    return uid;
  }

  /** The pseudonym of a patient identity, in the profile's format (`#` → digit). */
  patient(identity: string): string {
    const cached = this.patientCache.get(identity);
    if (cached !== undefined) return cached;
    const result = this.computePatient(identity);
    if (this.patientCache.size > 10_000) this.patientCache.clear();
    this.patientCache.set(identity, result);
    return result;
  }

  private computePatient(identity: string): string {
    const digest = this.mac('patient', identity);
    let value = 0n;
    for (const byte of digest) value = (value << 8n) | BigInt(byte);
    let result = '';
    for (const char of this.pseudonymFormat) {
      if (char === '#') {
        result += (value % 10n).toString();
        value /= 10n;
      } else result += char;
    }
    return result;
  }

  /** Whole days added to every date of this patient (Modified Dates option). */
  dateOffsetDays(identity: string): number {
    const cached = this.offsetCache.get(identity);
    if (cached !== undefined) return cached;
    const digest = this.mac('date-offset', identity);
    const span = this.dateShift.maxDays - this.dateShift.minDays + 1;
    const n = (((digest[0] ?? 0) << 24) | ((digest[1] ?? 0) << 16) | ((digest[2] ?? 0) << 8) | (digest[3] ?? 0)) >>> 0;
    const offset = this.dateShift.minDays + (n % span);
    if (this.offsetCache.size > 10_000) this.offsetCache.clear();
    this.offsetCache.set(identity, offset);
    return offset;
  }

  /** 8 hex digits that tell apart outputs of different input files with the same SOP Instance UID (no PHI: keyed). */
  sourceTag(relativePath: string): string {
    return toHex(this.mac('source', relativePath).subarray(0, 4));
  }

  /** A keyed hash of an old value for the report: proves what changed without revealing it. */
  valueHash(bytes: Uint8Array): string {
    // Values repeat across the files of a study (names, dates, descriptions): short ones are cached.
    if (bytes.length <= 64) {
      let key = '';
      for (const byte of bytes) key += String.fromCharCode(byte);
      const cached = this.hashCache.get(key);
      if (cached !== undefined) return cached;
      const hash = this.computeValueHash(bytes);
      if (this.hashCache.size > 10_000) this.hashCache.clear();
      this.hashCache.set(key, hash);
      return hash;
    }
    return this.computeValueHash(bytes);
  }

  private computeValueHash(bytes: Uint8Array): string {
    const labelled = new Uint8Array(bytes.length + 7);
    labelled.set(new TextEncoder().encode('report\u0000'));
    labelled.set(bytes, 7);
    return `hmac:${toHex(this.crypto.hmac(labelled).subarray(0, 12))}`;
  }
}

/** Shifts a DA value (`YYYYMMDD`) by whole days; undefined when it is not a valid date. */
export function shiftDate(value: string, days: number): string | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec(value);
  if (match === null) return undefined;
  const time = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  if (Number.isNaN(time)) return undefined;
  const shifted = new Date(time + days * 86_400_000);
  const year = shifted.getUTCFullYear();
  if (year < 1 || year > 9999) return undefined;
  return `${String(year).padStart(4, '0')}${String(shifted.getUTCMonth() + 1).padStart(2, '0')}${String(shifted.getUTCDate()).padStart(2, '0')}`;
}

/** Shifts the date part of a DT value; undefined when it has no full date. */
export function shiftDateTime(value: string, days: number): string | undefined {
  if (value.length < 8) return undefined;
  const date = shiftDate(value.slice(0, 8), days);
  return date === undefined ? undefined : date + value.slice(8);
}
