import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath, launchChromium } from './support/chromium.js';
import { requireSystemFile } from './support/requirements.js';
import { repoRoot, startWorkstation, type RunningWorkstation } from './support/workstation.js';

const chromium = requireSystemFile(chromiumPath, 'Debian Chromium', 'apt-get install chromium');
const shots = join(repoRoot, 'test-results', 'e2e');

describe.skipIf(!chromium.ok)('workstation in the browser shell (production build, Chromium)', () => {
  let workstation: RunningWorkstation;
  let browser: { context: BrowserContext; close: () => Promise<void> };
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await mkdir(shots, { recursive: true });
    workstation = await startWorkstation();
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    await page.goto(workstation.url);
  });

  afterAll(async () => {
    await browser?.close();
    await workstation?.stop();
  });

  it('boots to the first screen with the companion server online', async () => {
    await page.getByRole('heading', { name: 'Welcome' }).waitFor();
    await page.getByTestId('server-state').getByText('Online').waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('app-meta').innerText()).toMatch(/^Version \d+\.\d+\.\d+ · Browser shell · /);
    expect(await page.locator('section[aria-labelledby="server-title"]').getByText(workstation.serverUrl, { exact: true }).count()).toBe(1);
    await page.screenshot({ path: join(shots, 'first-screen.png'), fullPage: true });
    // The secret leaves the address bar as soon as the page has read it.
    expect(page.url()).toBe(`${workstation.origin}/`);
    expect(pageErrors).toEqual([]);
  });

  it('gives the page no Node or Electron internals', async () => {
    const exposed = await page.evaluate(() => ({
      require: typeof (window as unknown as Record<string, unknown>).require,
      process: typeof (window as unknown as Record<string, unknown>).process,
      module: typeof (window as unknown as Record<string, unknown>).module,
      Buffer: typeof (window as unknown as Record<string, unknown>).Buffer,
    }));
    expect(exposed).toEqual({ require: 'undefined', process: 'undefined', module: 'undefined', Buffer: 'undefined' });
  });

  it('round-trips a contract call and rejects invalid input with the contract error', async () => {
    const replies = await page.evaluate(async () => {
      const secret = sessionStorage.getItem('paradim.shellSecret') ?? '';
      const ws = new WebSocket(`ws://${location.host}/ipc`, ['paradim-ipc.v1', `secret.${secret}`]);
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = reject;
      });
      const call = (id: number, channel: string, input: unknown): Promise<unknown> =>
        new Promise((resolve) => {
          ws.addEventListener('message', (event: MessageEvent<string>) => {
            const message = JSON.parse(event.data) as { type: string; id: number; envelope: unknown };
            if (message.type === 'result' && message.id === id) resolve(message.envelope);
          });
          ws.send(JSON.stringify({ id, channel, input }));
        });
      const info = await call(1, 'app.getInfo', {});
      const invalid = await call(2, 'settings.update', { serverUrl: 'ftp://files.example' });
      ws.close();
      return { info, invalid };
    });
    expect(replies.info).toMatchObject({ ok: true, value: { productName: 'PARADIM Workstation', shell: 'browser' } });
    expect(replies.invalid).toEqual({
      ok: false,
      error: {
        code: 'INVALID_INPUT',
        message: 'The request is not valid.',
        details: [{ path: 'serverUrl', issue: 'must be an http:// or https:// address without a user name or password' }],
      },
    });
  });

  it('shows the contract error, with what and where, for an invalid setting typed by the user', async () => {
    await page.getByLabel('Companion server address').fill('not a web address');
    await page.getByRole('button', { name: 'Save' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.innerText()).toBe(
      'The request is not valid. — serverUrl: must be an http:// or https:// address without a user name or password',
    );
    await page.screenshot({ path: join(shots, 'invalid-setting.png'), fullPage: true });
    await page.getByLabel('Companion server address').fill('');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Settings saved.').waitFor();
  });

  it('refuses a page opened without the launch secret', async () => {
    const stranger = await browser.context.newPage();
    await stranger.goto(`${workstation.origin}/`);
    await stranger.getByText('This page is not authorised to use the workstation.', { exact: false }).waitFor();
    await stranger.screenshot({ path: join(shots, 'no-secret.png') });
    await stranger.close();
  });
});
