import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { EventName } from '../../shared/ipc/contract.js';
import { passphraseSealer, readReidMap } from '../deid/reid-map.js';
import { corpusDir, hasCorpus } from '../deid/test-support.js';
import { openKeyFileVault } from '../services/secret-vault.js';
import { ImportService } from './import-service.js';

const haveCorpus = hasCorpus();

async function service(): Promise<{ imports: ImportService; events: Array<{ event: EventName; payload: unknown }>; userData: string }> {
  const userData = await mkdtemp(join(tmpdir(), 'paradim-import-'));
  const events: Array<{ event: EventName; payload: unknown }> = [];
  const imports = new ImportService({
    userDataDir: userData,
    vault: await openKeyFileVault(userData),
    emit: (event, payload) => events.push({ event, payload }),
    log: pino({ level: 'silent' }),
    workerScript: null,
    workers: 0,
  });
  return { imports, events, userData };
}

describe.skipIf(!haveCorpus)('workstation import (dcmqi 3-slice CT from the corpus)', () => {
  const folder = join(corpusDir, 'ct-series', 'dcmqi-ct-3slice');

  it('scans a folder into patient, study and series with progress', async () => {
    const { imports, events } = await service();
    const scan = await imports.scan(folder);
    expect(scan).toMatchObject({ files: 3, dicomFiles: 3, unreadableCount: 0, sampleFile: '01.dcm' });
    expect(scan.patients).toHaveLength(1);
    expect(scan.patients[0]?.studies[0]?.series[0]).toMatchObject({ modality: 'CT', files: 3 });
    expect(events.some((e) => e.event === 'task.progress' && (e.payload as { state: string }).state === 'done')).toBe(true);
  });

  it('previews what the profile does to a sample, before and after', async () => {
    const { imports } = await service();
    const scan = await imports.scan(folder);
    const preview = await imports.preview(folder, '01.dcm', { builtin: 'basic' });
    expect(preview.status).toBe('deidentified');
    const name = preview.rows.find((row) => row.keyword === 'PatientName');
    expect(name?.before).toBe(scan.patients[0]?.patientName);
    expect(name?.after).not.toBe(name?.before);
    expect(preview.rows.find((row) => row.keyword === 'PatientIdentityRemoved')).toMatchObject({ after: 'YES' });
    await expect(imports.preview(folder, '../../etc/passwd', { builtin: 'basic' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('de-identifies the batch, reports beside the output, seals the re-identification map and exports it for the steward', async () => {
    const { imports, events, userData } = await service();
    const output = join(userData, 'out');
    await expect(imports.start(folder, join(folder, 'inside'), { builtin: 'basic' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    const { taskId } = await imports.start(folder, output, { builtin: 'longitudinal' });
    const finished = await new Promise<Record<string, unknown>>((resolve) => {
      const timer = setInterval(() => {
        const done = events.find((e) => e.event === 'import.finished' && (e.payload as { taskId: string }).taskId === taskId);
        if (done !== undefined) {
          clearInterval(timer);
          resolve(done.payload as Record<string, unknown>);
        }
      }, 20);
    });
    expect(finished).toMatchObject({ filesTotal: 3, cancelled: false, counts: { deidentified: 3 }, reportsDir: `${output}-reports` });
    expect((await readdir(join(userData, 'deid', 'maps'))).length).toBe(1);
    expect(() => imports.cancel('import-none')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));

    // The steward exports the map, sealed with a passphrase, in the CLI's format.
    const exported = join(userData, 'project.reid-map');
    expect(await imports.exportMap({ builtin: 'longitudinal' }, exported, 'correct horse battery')).toEqual({ patients: 1 });
    const map = await readReidMap(exported, passphraseSealer('correct horse battery'));
    const scanned = await imports.scan(folder);
    expect(Object.values(map.patients)[0]?.patientId).toBe(scanned.patients[0]?.patientId);
    await expect(readReidMap(exported, passphraseSealer('wrong passphrase!'))).rejects.toMatchObject({ code: 'DEID_MAP_LOCKED' });
    await expect(imports.exportMap({ builtin: 'research' }, exported, 'correct horse battery')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
