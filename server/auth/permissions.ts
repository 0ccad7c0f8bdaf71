import { z } from 'zod';

import {
  memberFlags,
  tokenPermissionSchema,
  tokenPermissions,
  type MemberFlags,
  type TokenPermission,
} from '../../shared/domain/access.js';

export const defaultMemberFlags: MemberFlags = {
  addUser: false,
  addSeries: true,
  removeSeries: false,
  download: true,
  sendSeries: false,
  writeComments: true,
};

export const allMemberFlags: MemberFlags = Object.fromEntries(memberFlags.map((flag) => [flag, true])) as MemberFlags;

export function parsePermissionList(text: string): TokenPermission[] {
  const parts = text.split(',').map((part) => part.trim()).filter((part) => part !== '');
  const result = z.array(tokenPermissionSchema).min(1).safeParse(parts);
  if (!result.success) throw new Error(`permissions must be a comma-separated list of ${tokenPermissions.join(', ')}; got "${text}"`);
  return [...new Set(result.data)];
}

/** `7d`, `12h`, `30m`, `90s` or an ISO date → an absolute time. */
export function parseExpiry(text: string, now: Date = new Date()): Date {
  const relative = /^(\d+)\s*([smhdw])$/.exec(text.trim());
  if (relative !== null) {
    const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[relative[2] as 's' | 'm' | 'h' | 'd' | 'w'];
    return new Date(now.getTime() + Number(relative[1]) * unit * 1000);
  }
  const absolute = new Date(text);
  if (Number.isNaN(absolute.getTime())) throw new Error(`expiry must look like 7d, 12h, 30m or an ISO date; got "${text}"`);
  return absolute;
}
