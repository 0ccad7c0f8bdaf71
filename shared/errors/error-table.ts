/**
 * The single error table of PARADIM Workstation: every expected failure has a code, the message a
 * radiologist or data steward sees, and the HTTP status the companion server answers with.
 * Anything that is not in this table is a bug and surfaces as INTERNAL.
 */
export const errorTable = {
  INVALID_INPUT: { message: 'The request is not valid.', httpStatus: 400 },
  UNKNOWN_CHANNEL: { message: 'This action does not exist in this version of the workstation.', httpStatus: 404 },
  FORBIDDEN_SENDER: { message: 'This request did not come from the workstation window and was refused.', httpStatus: 403 },
  UNAUTHENTICATED: { message: 'You are not signed in, or your session has expired.', httpStatus: 401 },
  FORBIDDEN: { message: 'You do not have permission to do this.', httpStatus: 403 },
  NOT_FOUND: { message: 'The requested item was not found.', httpStatus: 404 },
  SHELL_DISCONNECTED: {
    message: 'The connection to the workstation services was lost. Reload the page; if this persists, restart the workstation.',
    httpStatus: 503,
  },
  SHELL_NOT_AUTHORIZED: {
    message: 'This page is not authorised to use the workstation. Open the address printed when the workstation started.',
    httpStatus: 401,
  },
  SERVER_FAILED: { message: 'The companion server could not complete the request. Try again later.', httpStatus: 502 },
  SIGN_IN_FAILED: { message: 'Sign-in did not complete.', httpStatus: 401 },
  SERVER_UNREACHABLE: { message: 'The companion server cannot be reached.', httpStatus: 502 },
  SETTINGS_UNREADABLE: { message: 'The workstation settings file is damaged; defaults are in use.', httpStatus: 500 },
  STORAGE_WRITE_FAILED: { message: 'The file could not be saved; nothing was changed.', httpStatus: 500 },
  CONFIG_INVALID: { message: 'The configuration is not valid.', httpStatus: 500 },
  AUDIT_WRITE_FAILED: {
    message: 'The access could not be recorded in the audit trail, so it was refused. Please try again or contact the administrator.',
    httpStatus: 503,
  },
  DICOM_MALFORMED: { message: 'The file is not a readable DICOM file.', httpStatus: 422 },
  DICOM_UNSUPPORTED: { message: 'This DICOM encoding is not supported.', httpStatus: 415 },
  DEID_QUARANTINED: {
    message: 'The file was not de-identified because it may carry identifying content that cannot be cleaned automatically; it was quarantined.',
    httpStatus: 422,
  },
  DEID_RESIDUAL_PHI: { message: 'An identifying value survived de-identification; the file was not written.', httpStatus: 500 },
  DEID_PROFILE_INVALID: { message: 'The de-identification profile is not valid.', httpStatus: 400 },
  DEID_KEY_INVALID: { message: 'The de-identification project key file is not valid.', httpStatus: 400 },
  DEID_INPUT_UNREADABLE: { message: 'A file or folder of the input could not be read.', httpStatus: 422 },
  DEID_MAP_LOCKED: { message: 'The re-identification map could not be opened: wrong passphrase or damaged file.', httpStatus: 403 },
  UNSUPPORTED_MEDIA_TYPE: { message: 'The server cannot read data of this type.', httpStatus: 415 },
  NOT_ACCEPTABLE: { message: 'The server cannot answer in any of the formats the request accepts.', httpStatus: 406 },
  CANCELLED: { message: 'The task was cancelled.', httpStatus: 409 },
  INTERNAL: { message: 'An unexpected error occurred. It has been logged; please report it.', httpStatus: 500 },
} as const satisfies Record<string, { message: string; httpStatus: number }>;

export type ErrorCode = keyof typeof errorTable;

export const errorCodes = Object.keys(errorTable) as ErrorCode[];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(errorTable, value);
}
