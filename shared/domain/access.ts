import { z } from 'zod';

/** What a token may do (the Kheops model): read (search, view), write (store), download (retrieve whole instances). */
export const tokenPermissions = ['read', 'write', 'download'] as const;
export type TokenPermission = (typeof tokenPermissions)[number];
export const tokenPermissionSchema = z.enum(tokenPermissions);

/** What a member may do in an album; album admins may do everything, including managing members. */
export const memberFlags = ['addUser', 'addSeries', 'removeSeries', 'download', 'sendSeries', 'writeComments'] as const;
export type MemberFlag = (typeof memberFlags)[number];
export type MemberFlags = { readonly [F in MemberFlag]: boolean };
export const memberFlagsSchema = z.strictObject(Object.fromEntries(memberFlags.map((flag) => [flag, z.boolean()])) as Record<MemberFlag, z.ZodBoolean>);

export const memberFlagLabels: Record<MemberFlag, string> = {
  addUser: 'Invite members',
  addSeries: 'Add series',
  removeSeries: 'Remove series',
  download: 'Download',
  sendSeries: 'Share / send',
  writeComments: 'Comment',
};

/** The syntax of a PARADIM access token secret (`pdw_<16 hex id>_<43 base64url>`). */
export const tokenSecretPattern = /^pdw_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
