import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDicom, imageAttributes, type TestItem } from '../../shared/dicom/testing/build-dicom.js';
import { repoRoot, tree } from './test-support.js';

let dir: string;
let cli: string;

function ct(patientId: string, name: string, sop: string, extra: TestItem = []): Uint8Array {
  const dataset: TestItem = [
    [0x00080016, '1.2.840.10008.5.1.4.1.1.2'],
    [0x00080018, sop],
    [0x00080020, '20240315'],
    [0x00080060, 'CT'],
    [0x00100010, name],
    [0x00100020, patientId],
    [0x0020000d, `${sop}.1`],
    [0x0020000e, `${sop}.2`],
    ...extra,
    ...imageAttributes({ rows: 175, columns: 200, bitsAllocated: 16 }),
    [0x7fe00010, new Uint8Array(70_000).fill(9), 'OW'],
  ];
  return buildDicom(dataset.sort((a, b) => a[0] - b[0]));
}

function runCli(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, PARADIM_DEID_MAP_PASSPHRASE: '', ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}


beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'paradim-deid-cli-'));
  await build({
    entryPoints: { 'paradim-deid': join(repoRoot, 'main/deid/paradim-deid.ts'), 'deid-worker': join(repoRoot, 'main/deid/worker.ts') },
    outdir: join(dir, 'bin'),
    outExtension: { '.js': '.cjs' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    logLevel: 'error',
  });
  cli = join(dir, 'bin', 'paradim-deid.cjs');
  const input = join(dir, 'in', 'Doe Jane (MRN-1)', 'scan');
  mkdirSync(input, { recursive: true });
  writeFileSync(join(input, 'a.dcm'), ct('MRN-1', 'Doe^Jane', '1.2.3.100'));
  writeFileSync(join(input, 'b'), ct('MRN-1', 'Doe^Jane', '1.2.3.101'));
  writeFileSync(join(input, 'c.dcm'), ct('MRN-2', 'Roe^Rich', '1.2.3.102'));
  writeFileSync(join(input, 'burned.dcm'), ct('MRN-2', 'Roe^Rich', '1.2.3.103', [[0x00280301, 'YES']]));
  writeFileSync(join(input, 'notes.txt'), 'not dicom at all, just text');
  writeFileSync(join(input, 'DICOMDIR'), 'index');
  const clean = join(dir, 'clean');
  mkdirSync(clean);
  writeFileSync(join(clean, 'x.dcm'), ct('MRN-3', 'Poe^Edgar', '1.2.3.200'));
}, 30_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('paradim-deid', () => {
  it('de-identifies a folder, lists each quarantined or failed file with its reason, and exits 1', () => {
    const out = join(dir, 'out1');
    const result = runCli([join(dir, 'in'), out, '--workers', '2']);
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/De-identified 3, quarantined 1, dropped 0, failed 1, skipped 1/);
    expect(result.stdout).toMatch(/QUARANTINED Doe Jane \(MRN-1\)\/scan\/burned\.dcm: BurnedInAnnotation is YES/);
    expect(result.stdout).toMatch(/FAILED Doe Jane \(MRN-1\)\/scan\/notes\.txt: offset 0: .* \[DICOM_MALFORMED\]/);
    // A new key beside the output, readable only by the user, and the CLI says where.
    const keyPath = `${out}.deid-key`;
    expect(result.stderr).toContain(`Created a new project key at ${keyPath}`);
    expect(statSync(keyPath).mode & 0o777).toBe(0o600);
    // Reports beside the output, never inside it; output paths carry no PHI.
    const reports = `${out}.deid-reports`;
    expect(existsSync(join(reports, 'summary.json'))).toBe(true);
    expect(readFileSync(join(reports, 'files.jsonl'), 'utf8').trim().split('\n')).toHaveLength(5);
    const outputs = [...tree(out).keys()];
    expect(outputs).toHaveLength(3);
    for (const path of outputs) {
      expect(path).toMatch(/^\/2\.25\.\d+\/2\.25\.\d+\/2\.25\.\d+_[0-9a-f]{8}\.dcm$/);
      const bytes = readFileSync(join(out, path));
      for (const phi of ['Doe', 'Jane', 'MRN-1', 'MRN-2', 'Roe', '1.2.3.10', '20240315']) expect(bytes.includes(phi), phi).toBe(false);
    }
  });

  it('gives the same bytes with the same key, with or without worker threads, and resumes from its journal', () => {
    const key = join(dir, 'project.key');
    const a = join(dir, 'outA');
    const b = join(dir, 'outB');
    expect(runCli([join(dir, 'in'), a, '--key', key, '--workers', '2']).status).toBe(1);
    expect(runCli([join(dir, 'in'), b, '--key', key, '--workers', '0']).status).toBe(1);
    expect(tree(a)).toEqual(tree(b));
    expect(tree(a).size).toBe(3);
    const again = runCli([join(dir, 'in'), a, '--key', key]);
    // Done files (de-identified, quarantined, skipped) are not redone; the failed one is retried. Files quarantined by
    // the earlier run stay listed (and the exit status says so).
    expect(again.stdout).toMatch(/De-identified 0, quarantined 1, dropped 0, failed 1, skipped 1, resumed 3 of 6 files/);
    expect(again.stdout).toMatch(/QUARANTINED Doe Jane \(MRN-1\)\/scan\/burned\.dcm: BurnedInAnnotation is YES.*\(earlier run\)/);
    expect(again.status).toBe(1);
    // Still one report per input file (the DICOMDIR has none): the retried file's earlier line was replaced.
    expect(readFileSync(join(`${a}.deid-reports`, 'files.jsonl'), 'utf8').trim().split('\n')).toHaveLength(5);
    expect(tree(a)).toEqual(tree(b));
    const otherKey = join(dir, 'outC');
    runCli([join(dir, 'in'), otherKey]);
    expect([...tree(otherKey).keys()].sort()).not.toEqual([...tree(a).keys()].sort());
  });

  it('exits 0 when every file was de-identified', () => {
    const result = runCli([join(dir, 'clean'), join(dir, 'cleanOut'), '--quiet']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/De-identified 1, quarantined 0, dropped 0, failed 0/);
  });

  it('exits 2 on a usage error or an invalid profile', () => {
    expect(runCli([join(dir, 'in')]).status).toBe(2);
    expect(runCli([join(dir, 'in'), join(dir, 'x'), '--bogus']).status).toBe(2);
    const profile = join(dir, 'bad-profile.json');
    writeFileSync(profile, JSON.stringify({ options: { retainEverything: true } }));
    const bad = runCli([join(dir, 'in'), join(dir, 'x'), '--profile', profile]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/profile is not valid/);
    expect(runCli([join(dir, 'in'), join(dir, 'in', 'inside')]).status).toBe(2);
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const notFolder = runCli([join(dir, 'clean'), file, '--key', join(dir, 'k-file.key')]);
    expect(notFolder.status).toBe(2);
    expect(notFolder.stderr).toMatch(/output: is a file, not a folder/);
  });

  it('applies a project profile and writes an encrypted re-identification map that the steward can export', () => {
    const profile = join(dir, 'profile.yaml');
    writeFileSync(profile, 'name: Brain tumour study\nversion: "3"\npseudonymFormat: BT-#####\noptions:\n  retainLongitudinalModifiedDates: true\n');
    const out = join(dir, 'outMap');
    const passphrase = { PARADIM_DEID_MAP_PASSPHRASE: 'correct horse battery' };
    const result = runCli([join(dir, 'clean'), out, '--profile', profile, '--quiet'], passphrase);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/profile Brain tumour study v3 sha256:[0-9a-f]{64}/);
    const mapPath = `${out}.deid-key.reid-map`;
    const sealed = readFileSync(mapPath);
    expect(sealed.includes('MRN-3')).toBe(false);
    expect(statSync(mapPath).mode & 0o777).toBe(0o600);
    const exported = runCli(['export-map', mapPath], passphrase);
    expect(exported.status).toBe(0);
    const map = JSON.parse(exported.stdout) as { patients: Record<string, { patientId: string }> };
    const [pseudonym, entry] = Object.entries(map.patients)[0] ?? [];
    expect(pseudonym).toMatch(/^BT-\d{5}$/);
    expect(entry?.patientId).toBe('MRN-3');
    const wrong = runCli(['export-map', mapPath], { PARADIM_DEID_MAP_PASSPHRASE: 'wrong passphrase!' });
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toMatch(/wrong passphrase/);
    // A batch with the wrong passphrase stops before any work, not after it.
    const other = join(dir, 'outMapWrong');
    const refused = runCli([join(dir, 'clean'), other, '--key', `${out}.deid-key`, '--quiet'], { PARADIM_DEID_MAP_PASSPHRASE: 'wrong passphrase!' });
    expect(refused.status).toBe(2);
    expect(existsSync(other)).toBe(false);
  });

  it('puts the patients of files done by an earlier run in the map too', () => {
    const out = join(dir, 'outResumedMap');
    const key = join(dir, 'resumed.key');
    expect(runCli([join(dir, 'clean'), out, '--key', key, '--quiet']).status).toBe(0); // no passphrase: no map
    const passphrase = { PARADIM_DEID_MAP_PASSPHRASE: 'correct horse battery' };
    const again = runCli([join(dir, 'clean'), out, '--key', key, '--quiet'], passphrase);
    expect(again.stdout).toMatch(/resumed 1 of 1 files/);
    const exported = runCli(['export-map', `${key}.reid-map`], passphrase);
    expect(Object.values((JSON.parse(exported.stdout) as { patients: Record<string, { patientId: string }> }).patients).map((p) => p.patientId)).toEqual(['MRN-3']);
  });

  it('refuses to mix keys in one output, and keeps key and reports out of the output and input', () => {
    const out = join(dir, 'outOneKey');
    expect(runCli([join(dir, 'clean'), out, '--key', join(dir, 'one.key'), '--quiet']).status).toBe(0);
    const mixed = runCli([join(dir, 'clean'), out, '--key', join(dir, 'two.key'), '--quiet']);
    expect(mixed.status).toBe(2);
    expect(mixed.stderr).toMatch(/another project key or profile/);
    // A new reports folder does not hide it: the output folder itself records its key fingerprint and profile.
    const hidden = runCli([join(dir, 'clean'), out, '--key', join(dir, 'two.key'), '--reports', join(dir, 'otherReports'), '--quiet']);
    expect(hidden.status).toBe(2);
    expect(hidden.stderr).toMatch(/another project key or profile/);
    const inside = runCli([join(dir, 'clean'), join(dir, 'outKeyInside'), '--key', join(dir, 'outKeyInside', 'k.key')]);
    expect(inside.status).toBe(2);
    expect(existsSync(join(dir, 'outKeyInside', 'k.key'))).toBe(false);
    // The default key beside an output placed inside the input is not created either.
    expect(runCli([join(dir, 'clean'), join(dir, 'clean', 'out')]).status).toBe(2);
    expect(existsSync(join(dir, 'clean', 'out.deid-key'))).toBe(false);
  });

  it('does again an output a power cut emptied under its final name (no flush), instead of resuming it', () => {
    const out = join(dir, 'outNoFlush');
    expect(runCli([join(dir, 'clean'), out, '--durability', 'none', '--quiet']).status).toBe(0);
    const [path] = [...tree(out).keys()];
    const whole = readFileSync(join(out, path ?? ''));
    writeFileSync(join(out, path ?? ''), new Uint8Array(0));
    const again = runCli([join(dir, 'clean'), out, '--quiet']);
    expect(again.stdout).toMatch(/De-identified 1, .* resumed 0 of 1 files/);
    expect(readFileSync(join(out, path ?? ''))).toEqual(whole);
  });

  it('takes over locks of dead runs, refuses a live one, and starts afresh in an emptied output folder', () => {
    const out = join(dir, 'outLocks');
    expect(runCli([join(dir, 'clean'), out, '--key', join(dir, 'lock1.key'), '--quiet']).status).toBe(0);
    const lock = join(out, '.paradim-deid.lock');
    // Another machine's run that stopped touching its lock two minutes ago: taken over.
    writeFileSync(lock, JSON.stringify({ pid: 999_999, host: 'elsewhere' }));
    const old = new Date(Date.now() - 120_000);
    utimesSync(lock, old, old);
    expect(runCli([join(dir, 'clean'), out, '--key', join(dir, 'lock1.key'), '--quiet']).status).toBe(0);
    // A run on another machine that is still touching its lock: refused, naming the file to delete.
    writeFileSync(lock, JSON.stringify({ pid: 999_999, host: 'elsewhere' }));
    const refused = runCli([join(dir, 'clean'), out, '--key', join(dir, 'lock1.key'), '--quiet']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain(`delete ${lock}`);
    rmSync(lock);
    // The steward empties the output folder: another key may use it now; and the old output folder reads as input
    // without its bookkeeping file being taken for a DICOM file.
    for (const name of readdirSync(out)) if (!name.startsWith('.')) rmSync(join(out, name), { recursive: true });
    expect(runCli([join(dir, 'clean'), out, '--key', join(dir, 'lock2.key'), '--quiet']).status).toBe(0);
    const reused = runCli([out, join(dir, 'outFromOutput'), '--key', join(dir, 'lock2.key'), '--quiet']);
    expect(reused.stdout).toMatch(/De-identified 1, quarantined 0, dropped 0, failed 0/);
  });

  it('replaces the output of an input file that changed since the earlier run', () => {
    const input = join(dir, 'changing');
    mkdirSync(input);
    writeFileSync(join(input, 'x.dcm'), ct('MRN-6', 'Hoe^Ida', '1.2.3.500'));
    const out = join(dir, 'outChanging');
    expect(runCli([input, out, '--quiet']).status).toBe(0);
    const [before] = [...tree(out).keys()];
    writeFileSync(join(input, 'x.dcm'), ct('MRN-6', 'Hoe^Ida', '1.2.3.501')); // re-exported with a new SOP Instance UID
    const again = runCli([input, out, '--quiet']);
    expect(again.stdout).toMatch(/De-identified 1, .* resumed 0 of 1 files/);
    expect(again.stdout).toMatch(/1 input file\(s\) changed since an earlier run/);
    const after = [...tree(out).keys()];
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before);
  });

  it('follows symbolic links, and lists entries it cannot read while the batch goes on', () => {
    const input = join(dir, 'odd');
    mkdirSync(join(input, 'real'), { recursive: true });
    writeFileSync(join(input, 'real', 'x.dcm'), ct('MRN-4', 'Moe^Max', '1.2.3.300'));
    symlinkSync(join(dir, 'clean'), join(input, 'linked'));
    symlinkSync(join(input, 'real'), join(input, 'real', 'loop'));
    symlinkSync(join(input, 'missing.dcm'), join(input, 'broken.dcm'));
    writeFileSync(Buffer.from(`${input}/bad-\xff-name.dcm`, 'latin1'), ct('MRN-5', 'Zoe^Zed', '1.2.3.400'));
    const result = runCli([input, join(dir, 'outOdd'), '--quiet']);
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/De-identified 2, quarantined 0, dropped 0, failed 2/);
    expect(result.stdout).toMatch(/FAILED broken\.dcm: the symbolic link cannot be followed: it no longer exists \[DEID_INPUT_UNREADABLE\]/);
    expect(result.stdout).toMatch(/FAILED bad-.*-name\.dcm: its name is not valid UTF-8 on this system/);
  });
});
