import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OidcVerifier, oidcConfigSchema } from './oidc-verifier.js';

// A real issuer on loopback: discovery document + JWKS, tokens signed with its RS256 key.
let server: Server;
let issuer: string;
let signingKey: CryptoKey;
let otherKey: CryptoKey;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  signingKey = pair.privateKey;
  otherKey = (await generateKeyPair('RS256')).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/tenant/.well-known/openid-configuration') res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/keys` }));
    else if (req.url === '/tenant/keys') res.end(JSON.stringify({ keys: [jwk] }));
    else res.writeHead(404).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/tenant`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

function token(claims: Record<string, unknown>, options: { key?: CryptoKey; exp?: string | number; nbf?: number; aud?: string; iss?: string } = {}): Promise<string> {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'at+jwt' })
    .setSubject('user-42')
    .setIssuer(options.iss ?? issuer)
    .setAudience(options.aud ?? 'api://paradim-server')
    .setIssuedAt()
    .setExpirationTime(options.exp ?? '10m');
  if (options.nbf !== undefined) jwt.setNotBefore(options.nbf);
  return jwt.sign(options.key ?? signingKey);
}

describe('OIDC bearer verification', () => {
  const verifier = (): OidcVerifier =>
    new OidcVerifier(oidcConfigSchema.parse({ issuer, audience: 'api://paradim-server', adminGroups: ['g-admins'], clockToleranceSeconds: 0 }));

  it('accepts a valid token through discovery + JWKS and maps the claims', async () => {
    const result = await verifier().verify(await token({ name: 'Dr Tremblay', email: 't@chum.example', groups: ['g-rad', 'g-admins'], scope: 'studies.read' }));
    expect(result).toMatchObject({
      ok: true,
      identity: { subject: 'user-42', name: 'Dr Tremblay', email: 't@chum.example', groups: ['g-rad', 'g-admins'], isAdmin: true, scopes: ['studies.read'] },
    });
  });

  it('refuses a wrong audience, a wrong issuer, a foreign signature, an expired or not-yet-valid token', async () => {
    const v = verifier();
    expect(await v.verify(await token({}, { aud: 'api://other' }))).toEqual({ ok: false, reason: 'invalid' });
    expect(await v.verify(await token({}, { iss: 'https://evil.example/tenant' }))).toEqual({ ok: false, reason: 'invalid' });
    expect(await v.verify(await token({}, { key: otherKey }))).toEqual({ ok: false, reason: 'invalid' });
    expect(await v.verify(await token({}, { exp: Math.floor(Date.now() / 1000) - 120 }))).toEqual({ ok: false, reason: 'expired' });
    expect(await v.verify(await token({}, { nbf: Math.floor(Date.now() / 1000) + 3600 }))).toEqual({ ok: false, reason: 'not-yet-valid' });
    expect(await v.verify('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.')).toEqual({ ok: false, reason: 'invalid' });
  });
});
