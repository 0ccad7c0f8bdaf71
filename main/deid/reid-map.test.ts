import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mergeReidMap, passphraseSealer, readReidMap } from './reid-map.js';

const dir = mkdtempSync(join(tmpdir(), 'paradim-reid-map-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('re-identification map', () => {
  it('keeps the patients of two batches that end at the same time (merges wait for each other)', async () => {
    const path = join(dir, 'maps', 'project.map');
    const sealer = passphraseSealer('correct horse battery');
    const entry = (n: number) => ({ pseudonym: `PAT-${n}`, patientId: `MRN-${n}`, patientName: `Doe^${n}`, studyInstanceUID: `1.2.3.${n}`, newStudyInstanceUID: `2.25.${n}` });
    await Promise.all([mergeReidMap(path, sealer, [entry(1)]), mergeReidMap(path, sealer, [entry(2)]), mergeReidMap(path, sealer, [entry(3)])]);
    const map = await readReidMap(path, sealer);
    expect(Object.keys(map.patients).sort()).toEqual(['PAT-1', 'PAT-2', 'PAT-3']);
  }, 30_000);

  it('keeps every name of one patient ID, in the same order whichever file came first', async () => {
    const sealer = passphraseSealer('correct horse battery');
    const a = { pseudonym: 'PAT-9', patientId: '123456', patientName: 'Dog^AVeryGood', studyInstanceUID: '1.2.3', newStudyInstanceUID: '2.25.3' };
    const b = { ...a, patientName: 'Anonymous' };
    const first = join(dir, 'one.map');
    const second = join(dir, 'two.map');
    expect((await mergeReidMap(first, sealer, [a, b])).sharedIds).toBe(1);
    await mergeReidMap(second, sealer, [b, a]);
    const maps = [await readReidMap(first, sealer), await readReidMap(second, sealer)];
    expect(maps[0]).toEqual(maps[1]);
    expect(maps[0]?.patients['PAT-9']).toMatchObject({ patientName: 'Anonymous', otherNames: ['Dog^AVeryGood'] });
  }, 30_000);

  it('takes over at once the map lock of a run killed while merging', async () => {
    const path = join(dir, 'killed.map');
    const sealer = passphraseSealer('correct horse battery');
    writeFileSync(`${path}.lock`, JSON.stringify({ pid: 999_999, host: hostname() }));
    const started = Date.now();
    await mergeReidMap(path, sealer, [{ pseudonym: 'PAT-1', patientId: '1', patientName: 'A', studyInstanceUID: '1.2', newStudyInstanceUID: '2.25.1' }]);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(existsSync(`${path}.lock`)).toBe(false);
  }, 30_000);
});
