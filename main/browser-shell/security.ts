import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { wireSecretPrefix, wireSubprotocol } from '../../shared/ipc/wire.js';
import { contentSecurityPolicy } from '../../shared/security/content-security-policy.js';

/**
 * The browser shell's gatekeeping, kept pure so it can be tested exhaustively:
 * loopback only, the exact Host (DNS rebinding), the exact Origin (cross-site pages), and a per-launch secret.
 */
export function newLaunchSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function allowedHosts(port: number): ReadonlySet<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
}

export function allowedOrigins(port: number): ReadonlySet<string> {
  return new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`]);
}

export function isAllowedHost(host: string | undefined, port: number): boolean {
  return host !== undefined && allowedHosts(port).has(host.toLowerCase());
}

/** A missing Origin is allowed for plain GETs of static files (the browser omits it); never for the socket. */
export function isAllowedOrigin(origin: string | undefined, port: number, required: boolean): boolean {
  if (origin === undefined) return !required;
  return allowedOrigins(port).has(origin.toLowerCase());
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export function secretMatches(candidate: string | undefined, secret: string): boolean {
  if (candidate === undefined) return false;
  return timingSafeEqual(digest(candidate), digest(secret));
}

/** Reads `Sec-WebSocket-Protocol: paradim-ipc.v1, secret.<secret>`; browsers cannot set other headers on a WebSocket. */
export function parseSubprotocols(header: string | undefined): { protocolOk: boolean; secret: string | undefined } {
  const parts = (header ?? '').split(',').map((part) => part.trim()).filter((part) => part !== '');
  const secretPart = parts.find((part) => part.startsWith(wireSecretPrefix));
  return { protocolOk: parts.includes(wireSubprotocol), secret: secretPart?.slice(wireSecretPrefix.length) };
}

export function shellContentSecurityPolicy(port: number): string {
  return contentSecurityPolicy([`ws://127.0.0.1:${port}`, `ws://localhost:${port}`]);
}
