import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDicom, imageAttributes, type TestItem } from '../../shared/dicom/testing/build-dicom.js';
import { parseDeidProfile } from '../../shared/deid/profile.js';
import { runBatch, type BatchOptions } from './batch.js';
import { tree } from './test-support.js';

let dir: string;
const key = new Uint8Array(32).fill(3);


function options(out: string, extra: Partial<BatchOptions> = {}): BatchOptions {
  return { input: join(dir, 'in'), output: out, reportsDir: `${out}-reports`, profile: parseDeidProfile({}), key, workers: 0, durability: 'none', ...extra };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'paradim-deid-batch-'));
  for (let i = 0; i < 12; i++) {
    const dataset: TestItem = [
      [0x00080016, '1.2.840.10008.5.1.4.1.1.2'],
      [0x00080018, `1.2.3.${i}`],
      [0x00100010, `Name${i % 3}^Test`],
      [0x00100020, `ID-${i % 3}`],
      [0x0020000d, `1.2.3.${i % 3}.1`],
      [0x0020000e, `1.2.3.${i % 3}.2`],
      ...imageAttributes({ rows: 64, columns: 64 }),
      [0x7fe00010, new Uint8Array(4096).fill(i), 'OW'],
    ];
    const folder = join(dir, 'in', `p${i % 3}`);
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, `f${i}`), buildDicom(dataset));
  }
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('runBatch', () => {
  it('resumes after a cancel from its journal and ends with the same outputs as an uninterrupted run', async () => {
    const reference = join(dir, 'reference');
    await runBatch(options(reference));
    const out = join(dir, 'resumed');
    const controller = new AbortController();
    let seen = 0;
    const first = await runBatch(
      options(out, {
        signal: controller.signal,
        onFile: () => {
          if (++seen === 5) controller.abort();
        },
      }),
    );
    expect(first.cancelled).toBe(true);
    expect(first.counts.deidentified).toBe(5);
    // A crash leaves a temp file and may tear the last journal line: both are handled on resume.
    const someDir = join(out, readdirSync(out).filter((name) => !name.startsWith('.'))[0] ?? '');
    const series = join(someDir, readdirSync(someDir)[0] ?? '');
    writeFileSync(join(series, '.0123456789ab.tmp'), 'partial');
    appendFileSync(join(`${out}-reports`, 'journal.jsonl'), '{"k":"torn');
    const second = await runBatch(options(out));
    expect(second.cancelled).toBe(false);
    expect(second.counts.resumed).toBe(5);
    expect(second.counts.deidentified).toBe(7);
    expect(existsSync(join(series, '.0123456789ab.tmp'))).toBe(false);
    expect(tree(out)).toEqual(tree(reference));
    expect(tree(out).size).toBe(12);
  });

  it('survives a worker thread that dies: its files fail with a reason, a new worker takes over, the batch ends', async () => {
    const script = join(dir, 'dying-worker.cjs');
    writeFileSync(script, "require('node:worker_threads').parentPort.on('message', () => process.exit(3));\n");
    const summary = await runBatch(options(join(dir, 'dying'), { workers: 2, workerScript: script }));
    expect(summary.counts.failed).toBe(12);
    expect(summary.problems[0]?.reason).toMatch(/worker thread exited \(3\)/);
  });

  it('ends with every file failed when the worker script cannot start at all', async () => {
    const summary = await runBatch(options(join(dir, 'no-worker'), { workers: 2, workerScript: join(dir, 'missing-worker.cjs') }));
    expect(summary.counts.failed).toBe(12);
  });

  it('commits groups durably (the default): same outputs, no temp file left, no flush helper process left running', async () => {
    const reference = join(dir, 'group-reference');
    await runBatch(options(reference));
    const out = join(dir, 'group');
    const summary = await runBatch(options(out, { durability: 'group' }));
    expect(summary.counts.deidentified).toBe(12);
    expect(tree(out)).toEqual(tree(reference));
    const names = (folder: string): string[] => readdirSync(folder, { recursive: true, encoding: 'utf8' });
    expect(names(out).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    const helpers = spawnSync('pgrep', ['-f', 'paradim-syncfs'], { encoding: 'utf8' }).stdout.trim().split('\n').filter((pid) => pid !== '');
    expect(helpers.filter((pid) => existsSync(`/proc/${pid}`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(out))).toEqual([]);
  });

  it('runs again into an output folder that was deleted in between (same process)', async () => {
    const out = join(dir, 'deleted');
    await runBatch(options(out));
    rmSync(out, { recursive: true, force: true });
    rmSync(`${out}-reports`, { recursive: true, force: true });
    const again = await runBatch(options(out));
    expect(again.counts.deidentified).toBe(12);
  });

  it('refuses an output inside the input, and reports inside the output', async () => {
    await expect(runBatch(options(join(dir, 'in', 'x')))).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(runBatch(options(join(dir, 'o'), { reportsDir: join(dir, 'o', 'reports') }))).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('writes one report line per file and a summary, without identifying values', async () => {
    const out = join(dir, 'reports-check');
    const summary = await runBatch(options(out));
    expect(summary.counts.deidentified).toBe(12);
    const lines = readFileSync(join(`${out}-reports`, 'files.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(12);
    const all = lines.join('\n') + readFileSync(join(`${out}-reports`, 'summary.json'), 'utf8');
    for (const phi of ['Name0', 'ID-1', '1.2.3.4']) expect(all).not.toContain(phi);
    const report = JSON.parse(lines[0] ?? '{}') as { profile: { digest: string }; engine: string; actions: { path: string; action: string }[] };
    expect(report.profile.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(report.actions.some((action) => action.path === '(0010,0010)' && action.action === 'D')).toBe(true);
  });
});
