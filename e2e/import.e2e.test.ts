import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath, launchChromium } from './support/chromium.js';
import { requireSystemFile } from './support/requirements.js';
import { repoRoot, startWorkstation, type RunningWorkstation } from './support/workstation.js';

const corpus = join(repoRoot, '..', 'shared', 'corpus');
const chromium = requireSystemFile(chromiumPath, 'Debian Chromium', 'apt-get install chromium');
const haveCorpus = requireSystemFile(join(corpus, 'MANIFEST.tsv'), 'The DICOM test corpus', 'check out ../shared/corpus beside the repository');
const shots = join(repoRoot, 'test-results', 'e2e');

describe.skipIf(!chromium.ok || !haveCorpus.ok)('import and de-identify (browser shell, corpus files)', () => {
  let workstation: RunningWorkstation;
  let browser: { context: BrowserContext; close: () => Promise<void> };
  let page: Page;
  let source: string;
  let work: string;

  beforeAll(async () => {
    await mkdir(shots, { recursive: true });
    // A "CD" as stewards receive them: odd names, a non-DICOM file and a damaged one among real images.
    work = await mkdtemp(join(tmpdir(), 'paradim-import-e2e-'));
    source = join(work, 'CDROM');
    await mkdir(join(source, 'IMAGES'), { recursive: true });
    for (const [name, from] of [
      ['IM0001', 'ct-series/dcmqi-ct-3slice/01.dcm'],
      ['IM0002', 'ct-series/dcmqi-ct-3slice/02.dcm'],
      ['IM0003', 'ct-series/dcmqi-ct-3slice/03.dcm'],
      ['BROKEN', 'malformed/gen_truncated_in_sequence.dcm'],
    ] as const) {
      await copyFile(join(corpus, from), join(source, 'IMAGES', name));
    }
    await writeFile(join(source, 'README.TXT'), 'Viewer software for Windows\n');
    workstation = await startWorkstation();
    browser = await launchChromium();
    page = await browser.context.newPage();
    await page.goto(workstation.url);
    // The album the steward will push to (the embedded server signed this user in on first start).
    await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: 'Albums', exact: true }).click();
    await page.getByLabel('Name').fill('Imported CTs');
    await page.getByRole('button', { name: 'Create album' }).click();
    await page.getByRole('row', { name: /Imported CTs/ }).waitFor();
    await page.getByRole('button', { name: 'Import', exact: true }).click();
  });

  afterAll(async () => {
    await browser?.close();
    await workstation?.stop();
  });

  it('scans the folder and groups what it found by patient, study and series', async () => {
    await page.getByLabel('Folder or CD to import').fill(source);
    await page.getByRole('button', { name: 'Scan' }).click();
    const totals = page.getByTestId('scan-totals');
    await totals.waitFor();
    expect(await totals.innerText()).toMatch(/^3 DICOM files of 5 · .* · 1 patient\(s\) · 2 unreadable$/);
    expect(await page.getByRole('row').filter({ hasText: 'CT' }).count()).toBe(1);
    await page.screenshot({ path: join(shots, 'import-scan.png'), fullPage: true });
  });

  it('previews the chosen profile on a sample: before and after', async () => {
    await page.getByRole('radio', { name: /^Longitudinal research —/ }).check();
    await page.getByRole('button', { name: 'Preview a sample' }).click();
    const preview = page.getByTestId('preview');
    await preview.waitFor();
    const identityRemoved = preview.getByRole('row').filter({ hasText: 'PatientIdentityRemoved' });
    expect(await identityRemoved.innerText()).toContain('YES');
    expect(await preview.getByRole('row').filter({ hasText: 'PatientName' }).count()).toBe(1);
    await page.screenshot({ path: join(shots, 'import-preview.png'), fullPage: true });
  });

  it('says what is wrong with a project profile file, and where', async () => {
    await page.getByRole('radio', { name: /^Project profile file/ }).check();
    await page.getByLabel('Profile file', { exact: true }).fill(join(work, 'missing-profile.yaml'));
    await page.getByRole('button', { name: 'Preview a sample' }).click();
    await page.getByRole('alert').getByText(`The de-identification profile is not valid. — ${join(work, 'missing-profile.yaml')}: cannot be read`).waitFor();
    await page.getByRole('radio', { name: /^Longitudinal research —/ }).check();
  });

  it('de-identifies with progress and ends with a summary that gives each reason', async () => {
    await page.getByLabel('Write de-identified files to').fill(join(work, 'OUT'));
    await page.getByRole('button', { name: 'De-identify' }).click();
    const summary = page.getByTestId('import-summary');
    await summary.waitFor({ timeout: 30_000 });
    const text = await summary.innerText();
    expect(text).toMatch(/De-identified\s+3/);
    expect(text).toMatch(/Failed\s+2/);
    expect(await page.getByRole('row').filter({ hasText: 'BROKEN' }).innerText()).toMatch(/failed/);
    await page.screenshot({ path: join(shots, 'import-summary.png'), fullPage: true });
  });

  it('exports the re-identification map, sealed with the steward\'s passphrase', async () => {
    await page.getByText('Export the re-identification map').click();
    await page.getByLabel('Passphrase (12 characters or more)').fill('short');
    await page.getByRole('button', { name: 'Export' }).click();
    await page.getByRole('alert').getByText('passphrase: use at least 12 characters', { exact: false }).waitFor();
    await page.getByLabel('Passphrase (12 characters or more)').fill('correct horse battery');
    await page.getByRole('button', { name: 'Export' }).click();
    await page.getByText(/^Exported the map of 1 patient\(s\)/).waitFor();
    const sealed = await readFile(join(work, 'OUT-reid-map.sealed'));
    expect(sealed.subarray(0, 5).toString()).toBe('PDRM1');
    // Neither the patient's name nor ID (as the scan showed them) is readable in the file.
    const [name, id] = (await page.getByRole('region', { name: 'What was found' }).getByRole('cell').first().innerText()).split(' · ');
    expect(name?.length).toBeGreaterThan(3);
    expect(sealed.includes(Buffer.from(name ?? ''))).toBe(false);
    expect(sealed.includes(Buffer.from(id ?? ''))).toBe(false);
  });

  it('pushes the de-identified studies to an album', async () => {
    await page.getByLabel('Album').selectOption({ label: 'Imported CTs' });
    await page.getByRole('button', { name: 'Push' }).click();
    await page.getByTestId('push-result').getByText('3 instance(s) added to the album').waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Albums', exact: true }).click();
    const row = page.getByRole('row', { name: /Imported CTs/ });
    await row.getByText('CT', { exact: true }).waitFor();
    expect(await row.innerText()).toMatch(/Imported CTs\s+1\s+1\s+CT/);
    await page.screenshot({ path: join(shots, 'import-pushed-album.png'), fullPage: true });
  });
});
