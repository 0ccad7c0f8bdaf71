import { describe, expect, it } from 'vitest';
import { isAllowedHost, isAllowedOrigin, newLaunchSecret, parseSubprotocols, secretMatches } from './security.js';

describe('browser shell gatekeeping', () => {
  it('accepts only loopback hosts on our own port', () => {
    expect(isAllowedHost('127.0.0.1:4100', 4100)).toBe(true);
    expect(isAllowedHost('LOCALHOST:4100', 4100)).toBe(true);
    expect(isAllowedHost('attacker.example:4100', 4100)).toBe(false);
    expect(isAllowedHost('127.0.0.1:4101', 4100)).toBe(false);
    expect(isAllowedHost(undefined, 4100)).toBe(false);
  });

  it('requires our own origin for the socket', () => {
    expect(isAllowedOrigin('http://127.0.0.1:4100', 4100, true)).toBe(true);
    expect(isAllowedOrigin(undefined, 4100, true)).toBe(false);
    expect(isAllowedOrigin(undefined, 4100, false)).toBe(true);
    expect(isAllowedOrigin('http://evil.example', 4100, false)).toBe(false);
    expect(isAllowedOrigin('null', 4100, false)).toBe(false);
  });

  it('matches the secret exactly and generates unguessable ones', () => {
    const secret = newLaunchSecret();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(secretMatches(secret, secret)).toBe(true);
    expect(secretMatches(`${secret}x`, secret)).toBe(false);
    expect(secretMatches(undefined, secret)).toBe(false);
    expect(newLaunchSecret()).not.toBe(secret);
  });

  it('reads the protocol and secret from the subprotocol header', () => {
    expect(parseSubprotocols('paradim-ipc.v1, secret.abc')).toEqual({ protocolOk: true, secret: 'abc' });
    expect(parseSubprotocols('chat')).toEqual({ protocolOk: false, secret: undefined });
  });
});
