import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testServer } from '../test-support/dicomweb-helpers.js';
import { exerciseIndex } from '../test-support/index-behaviour.js';
import { SqliteIndex } from './sqlite-index.js';
import { SqliteWriter } from './sqlite-writer.js';

describe('SQLite index (embedded default)', () => {
  it('matches, counts, pages, retrieves and deletes like every index backend', async () => {
    const { app } = await testServer();
    await exerciseIndex(app);
    await app.close();
  });
});

describe('SQLite writer thread', () => {
  it('restarts after a crash and keeps writing', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'paradim-writer-')), 'index.sqlite');
    const index = new SqliteIndex(file);
    await index.init();
    const writer = new SqliteWriter(file);
    const record = (sop: string) => ({
      sop,
      study: '1.2.3',
      series: '1.2.3.4',
      studyParams: ['1.2.3', 'P', null, null, null, null, null, null, null, '{}', 0],
      seriesParams: ['1.2.3.4', '1.2.3', 'CT', 1, null, null, '{}', 0],
      instanceParams: [sop, '1.2.3.4', '1.2.3', '1.2.840.10008.5.1.4.1.1.2', 1, '1.2.840.10008.1.2.1', `00/${sop.replace(/\./g, '').padEnd(32, '0')}`, 10, null, '{}', '{}', 0],
    });
    expect(await writer.store([record('1.2.3.4.5')])).toEqual(['stored']);
    await writer.crashForTest();
    expect(await writer.store([record('1.2.3.4.6'), record('1.2.3.4.5')])).toEqual(['stored', 'exists']);
    await writer.close();
    expect((await index.instances({ study: '1.2.3' })).length).toBe(2);
    await index.close();
  });
});
