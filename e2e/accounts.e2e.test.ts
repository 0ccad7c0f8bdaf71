import { userInfo } from 'node:os';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath, launchChromium } from './support/chromium.js';
import { requireSystemFile } from './support/requirements.js';
import { startTestIdp, type TestIdp } from './support/test-idp.js';
import { repoRoot, startWorkstation, type RunningWorkstation } from './support/workstation.js';

const corpus = join(repoRoot, '..', 'shared', 'corpus');
const chromium = requireSystemFile(chromiumPath, 'Debian Chromium', 'apt-get install chromium');
const haveCorpus = requireSystemFile(join(corpus, 'MANIFEST.tsv'), 'The DICOM test corpus', 'check out ../shared/corpus beside the repository');
const openssl = requireSystemFile('/usr/bin/openssl', 'OpenSSL', 'apt-get install openssl');
const shots = join(repoRoot, 'test-results', 'e2e');

describe.skipIf(!chromium.ok || !openssl.ok || !haveCorpus.ok)('accounts, albums and tokens (embedded server, local IdP over https)', () => {
  let idp: TestIdp;
  let workstation: RunningWorkstation;
  let browser: { context: BrowserContext; close: () => Promise<void> };
  let page: Page;

  beforeAll(async () => {
    await mkdir(shots, { recursive: true });
    idp = await startTestIdp();
    workstation = await startWorkstation({
      env: {
        // Both msal-node (workstation) and jose (server) must trust the hospital's CA.
        NODE_EXTRA_CA_CERTS: idp.caFile,
        PARADIM_OIDC_ISSUER: idp.issuer,
        PARADIM_OIDC_AUDIENCE: idp.audience,
        PARADIM_SSO_CLIENT_ID: idp.clientId,
        PARADIM_SSO_SCOPES: idp.scopes.join(' '),
        PARADIM_SSO_PROTOCOL_MODE: 'OIDC',
        PARADIM_SSO_KNOWN_AUTHORITIES: idp.host,
        PARADIM_SSO_PROMPT: 'consent',
      },
    });
    browser = await launchChromium([`--ignore-certificate-errors-spki-list=${idp.spki}`]);
    page = await browser.context.newPage();
    await page.goto(workstation.url);
  });

  afterAll(async () => {
    await browser?.close();
    await workstation?.stop();
    await idp?.close();
  });

  it('signs the local user in to the embedded server on first start', async () => {
    await page.getByTestId('account').getByText(userInfo().username, { exact: true }).waitFor({ timeout: 20_000 });
  });

  it('creates an album and sees it listed', async () => {
    await page.getByRole('button', { name: 'Albums', exact: true }).click();
    await page.getByText('You are not a member of any album yet.').waitFor();
    await page.getByLabel('Name').fill('Lung nodules 2026');
    await page.getByLabel('Ethics protocol number').fill('MP-02-2026-117');
    await page.getByLabel('Destruction date').fill('2031-12-31');
    await page.getByRole('button', { name: 'Create album' }).click();
    const row = page.getByRole('row', { name: /Lung nodules 2026/ });
    await row.waitFor();
    expect(await row.innerText()).toContain('MP-02-2026-117');
    await page.screenshot({ path: join(shots, 'albums.png'), fullPage: true });
  });

  it('creates an album-scoped token, shows its secret once, and revokes it', async () => {
    await page.getByRole('button', { name: 'Access tokens', exact: true }).click();
    await page.getByLabel('Label').fill('Slicer on my laptop');
    await page.getByLabel('Scope').selectOption({ label: 'Lung nodules 2026' });
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = await page.getByTestId('new-token-secret').innerText();
    expect(secret).toMatch(/^pdw_[0-9a-f]{16}_/);
    const row = page.getByRole('row', { name: /Slicer on my laptop/ });
    await row.waitFor();
    expect(await row.innerText()).toMatch(/Lung nodules 2026\s+read\s.*active/s);
    await page.screenshot({ path: join(shots, 'tokens.png'), fullPage: true });
    await row.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('row', { name: /Slicer on my laptop.*revoked/s }).waitFor();
    // The server refuses the revoked secret.
    const status = await fetch(`${workstation.serverUrl}/api/me`, { headers: { authorization: `Bearer ${secret}` } }).then((r) => r.status);
    expect(status).toBe(401);
  });

  it('destroys the album with its images and the SEG that references them, and shows the certificate', async () => {
    // Images reach the album over its DICOMweb root, as a pipeline or the import would push them.
    await page.getByRole('button', { name: 'Access tokens', exact: true }).click();
    await page.getByLabel('Label').fill('Pipeline');
    await page.getByLabel('Scope').selectOption({ label: 'Lung nodules 2026' });
    await page.getByLabel('write').check();
    await page.getByLabel('download').check();
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByTestId('new-token-secret').getByText(/^pdw_/).waitFor();
    const token = await page.getByTestId('new-token-secret').innerText();
    const albums = (await (await fetch(`${workstation.serverUrl}/api/albums`, { headers: { authorization: `Bearer ${token}` } })).json()) as Array<{ id: string }>;
    const albumId = albums[0]?.id ?? '';
    const files = ['01', '02', '03'].map((n) => join(corpus, 'ct-series', 'dcmqi-ct-3slice', `${n}.dcm`)).concat(join(corpus, 'ct-series', 'dcmqi-ct-3slice-seg', 'liver.dcm'));
    const boundary = 'e2e-boundary';
    const parts = await Promise.all(files.map((file) => readFile(file)));
    const body = Buffer.concat([
      ...parts.flatMap((part) => [Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), part, Buffer.from('\r\n')]),
      Buffer.from(`--${boundary}--\r\n`),
    ]);
    const stored = await fetch(`${workstation.serverUrl}/albums/${albumId}/dicomweb/studies`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`, accept: 'application/dicom+json' },
      body,
    });
    expect(stored.status).toBe(200);

    await page.getByRole('button', { name: 'Albums', exact: true }).click();
    const row = page.getByRole('row', { name: /Lung nodules 2026/ });
    await row.getByText('CT, SEG').waitFor();
    await row.getByRole('button', { name: 'Members' }).click();
    // The access review lists who can reach the album and with which tokens, last use included.
    const review = page.getByRole('region', { name: 'Access review' });
    await review.getByText(/^Pipeline · this album · read, write, download · last used .* · active/).waitFor();
    await page.screenshot({ path: join(shots, 'album-members-review.png'), fullPage: true });
    await page.getByLabel('Reason').fill('End of ethics approval MP-02-2026-117');
    await page.getByLabel(/Type the album name to confirm/).fill('Lung nodules 2026');
    await page.getByRole('button', { name: 'Destroy album' }).click();
    await page.getByText('Verified: nothing of this album remains on the server.').waitFor({ timeout: 30_000 });
    const facts = await page.getByRole('region', { name: 'Destruction certificate' }).innerText();
    expect(facts).toMatch(/Instances\s+4/);
    expect(facts).toMatch(/Series\s+2/);
    await page.screenshot({ path: join(shots, 'destruction-certificate.png'), fullPage: true });
    // Nothing answers any more, with any credential.
    const gone = await fetch(`${workstation.serverUrl}/albums/${albumId}/dicomweb/studies`, { headers: { authorization: `Bearer ${token}` } });
    expect(gone.status).toBe(401);
    await page.getByRole('button', { name: 'Back to albums' }).click();
    await page.getByText('You are not a member of any album yet.').waitFor();
    // No image bytes remain in the server's storage, the certificate is on file, and the audit chain still verifies.
    const blobs = (await readdir(join(workstation.serverDataDir, 'blobs'), { recursive: true })).filter((name) => /[0-9a-f]{32}$/.test(String(name)));
    expect(blobs).toEqual([]);
    expect(await readdir(join(workstation.serverDataDir, 'certificates'))).toHaveLength(1);
    const verify = spawnSync(process.execPath, [join(repoRoot, 'app', 'server', 'cli.cjs'), 'audit', 'verify', '--data', workstation.serverDataDir], { encoding: 'utf8' });
    expect(verify.status, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/^Audit trail intact/);
  });

  it('signs in with the hospital account through msal-node, and the server accepts the token', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Home', exact: true }).click();
    const popupPromise = browser.context.waitForEvent('page');
    await page.getByRole('button', { name: 'Sign in with hospital account' }).click();
    const popup = await popupPromise;
    await popup.waitForLoadState();
    await popup.locator('input[name=login]').fill('radiologue');
    await popup.locator('input[name=password]').fill('any');
    await popup.screenshot({ path: join(shots, 'sso-login.png') });
    await popup.locator('button[type=submit]').click();
    await popup.waitForSelector('input[name=prompt][value=consent]', { state: 'attached' });
    await popup.locator('button[type=submit]').click();
    await popup.getByText('You are signed in to PARADIM Workstation').waitFor();
    await page.getByTestId('account').getByText('Dr radiologue').waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: 'Albums', exact: true }).click();
    // The server accepted the SSO access token (album list answered) and the new user sees no one else's album.
    await page.getByText('You are not a member of any album yet.').waitFor();
    await page.screenshot({ path: join(shots, 'sso-signed-in.png'), fullPage: true });
  });
});
