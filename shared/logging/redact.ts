/**
 * Log redaction shared by the workstation's services and the companion server.
 *
 * Policy (DEVELOPERS.md): logs carry no DICOM values and no secrets. Our own log fields are camelCase;
 * a PascalCase key is taken to be a DICOM keyword (`PatientName`, `StudyInstanceUID`) and its value is
 * dropped, as are DICOM tag keys (`00100010`, `(0010,0010)`), DICOM JSON elements (`{vr, Value}`) and
 * secret-like keys. Inside strings, bearer tokens, JWTs, secrets in URLs and DICOM UIDs are masked.
 */
export const REDACTED = '[redacted]';

const secretKey = /(token|secret|password|passphrase|authorization|cookie|api[-_]?key|credential|private[-_]?key|signature)/i;
const tagKey = /^(\(?[0-9a-f]{4},?[0-9a-f]{4}\)?|x[0-9a-f]{8})$/i;
const dicomKeywordKey = /^[A-Z][A-Za-z0-9]*$/;
const allowedPascalKeys = new Set(['Error']);

const stringRules: ReadonlyArray<readonly [RegExp, string]> = [
  [/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`],
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, REDACTED],
  [/([?&#](?:access_token|id_token|refresh_token|token|secret|code|password)=)[^&#\s]*/gi, `$1${REDACTED}`],
  [/\b[0-2](?:\.(?:0|[1-9][0-9]*)){4,}\b/g, '[uid]'],
];

export function isSensitiveKey(key: string): boolean {
  if (secretKey.test(key) || tagKey.test(key)) return true;
  return dicomKeywordKey.test(key) && !allowedPascalKeys.has(key);
}

export function redactString(value: string): string {
  let out = value;
  for (const [pattern, replacement] of stringRules) out = out.replace(pattern, replacement);
  return out;
}

function isDicomJsonElement(value: object): boolean {
  return 'vr' in value && ('Value' in value || 'BulkDataURI' in value || 'InlineBinary' in value);
}

/** Returns a redacted deep copy; never mutates the input. Cycles and depth are bounded. */
export function redactLogValue(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8) return '[depth]';
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((item) => redactLogValue(item, depth + 1, seen));
  if (value instanceof Error) {
    return {
      type: value.name,
      message: redactString(value.message),
      ...(value.stack === undefined ? {} : { stack: redactString(value.stack) }),
      ...('code' in value && typeof value.code === 'string' ? { code: value.code } : {}),
    };
  }
  if (isDicomJsonElement(value)) return REDACTED;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = isSensitiveKey(key) ? REDACTED : redactLogValue(item, depth + 1, seen);
  }
  return out;
}

/**
 * pino options that apply this policy to every record and message; both main and the server spread them
 * into their pino configuration, so the policy lives in one place.
 */
export const redactingLoggerOptions = {
  formatters: { log: (record: Record<string, unknown>): Record<string, unknown> => redactLogValue(record) as Record<string, unknown> },
  hooks: {
    logMethod(this: unknown, args: unknown[], method: (...inner: unknown[]) => void): void {
      method.apply(this, args.map((arg) => (typeof arg === 'string' ? redactString(arg) : arg)));
    },
  },
  serializers: { err: (error: unknown): unknown => redactLogValue(error) },
};
