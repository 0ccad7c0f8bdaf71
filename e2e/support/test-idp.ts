import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

/**
 * A real OpenID Connect provider on loopback (oidc-provider over https with a local CA), shaped like Entra ID: the
 * issuer has a tenant path, access tokens are RS256 JWTs for the server's audience. Its dev login form accepts any
 * password; the login name becomes the subject.
 */
export interface TestIdp {
  readonly issuer: string;
  readonly host: string;
  readonly caFile: string;
  /** base64 SHA-256 of the server key's SubjectPublicKeyInfo, for Chromium's --ignore-certificate-errors-spki-list. */
  readonly spki: string;
  readonly clientId: string;
  readonly audience: string;
  readonly scopes: readonly string[];
  close(): Promise<void>;
}

function openssl(args: string[], cwd: string): Buffer {
  return execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

export async function startTestIdp(): Promise<TestIdp> {
  const dir = await mkdtemp(join(tmpdir(), 'paradim-idp-'));
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=PARADIM test CA', '-keyout', 'ca.key', '-out', 'ca.crt'], dir);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr'], dir);
  await writeFile(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'ext.cnf', '-out', 'server.crt'], dir);
  const publicDer = execFileSync('sh', ['-c', 'openssl x509 -in server.crt -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64'], { cwd: dir });
  const spki = publicDer.toString().trim();

  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'test-idp-1', alg: 'RS256', use: 'sig' };
  const clientId = 'paradim-workstation';
  const audience = 'api://paradim-server';
  const tenant = 'tenant-e2e';

  let handler: ((req: Parameters<Parameters<typeof createServer>[1] & object>[0], res: Parameters<Parameters<typeof createServer>[1] & object>[1]) => void) | null = null;
  const server: Server = createServer({ key: await readFile(join(dir, 'server.key')), cert: await readFile(join(dir, 'server.crt')) }, (req, res) => {
    if (handler === null) return void res.writeHead(503).end();
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `https://127.0.0.1:${port}/${tenant}`;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: ['http://localhost', 'http://127.0.0.1/redirect'],
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email'] },
    conformIdTokenClaims: false,
    // Like Entra ID access tokens, which carry the person's name and e-mail (upn) for the resource server.
    extraTokenClaims: async (_ctx, token) =>
      'accountId' in token && typeof token.accountId === 'string'
        ? { name: `Dr ${token.accountId}`, email: `${token.accountId}@hospital.example` }
        : undefined,
    findAccount: async (_ctx, id) => ({
      accountId: id,
      claims: async () => ({ sub: id, name: `Dr ${id}`, preferred_username: id, email: `${id}@hospital.example` }),
    }),
    features: {
      devInteractions: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({ scope: 'dicomweb', audience, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
      },
    },
  });
  const callback = provider.callback();
  handler = (req, res) => {
    const prefix = `/${tenant}`;
    if (req.url?.startsWith(prefix) !== true) return void res.writeHead(404).end();
    (req as { originalUrl?: string }).originalUrl = req.url;
    req.url = req.url.slice(prefix.length) || '/';
    callback(req, res);
  };

  return {
    issuer,
    host: `127.0.0.1:${port}`,
    caFile: join(dir, 'ca.crt'),
    spki,
    clientId,
    audience,
    scopes: ['openid', 'profile', 'email', 'offline_access', 'dicomweb'],
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
