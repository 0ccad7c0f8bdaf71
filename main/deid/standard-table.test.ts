import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, requirePath } from './test-support.js';

const tsv = join(repoRoot, '..', 'shared', 'standards', 'ps3.15-e1-1.tsv');

describe.skipIf(!requirePath(tsv, 'the PS3.15 Table E.1-1 data file', 'check out ../shared/standards beside the repository'))('committed PS3.15 Table E.1-1', () => {
  it('is exactly what the generator makes from the pinned table (no hand edits, no drift)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'paradim-e11-'));
    try {
      const out = join(dir, 'e1-1-table.ts');
      execFileSync(process.execPath, [join(repoRoot, 'scripts', 'generate-e1-1-table.mjs'), tsv, out]);
      expect(readFileSync(out, 'utf8')).toBe(readFileSync(join(repoRoot, 'shared', 'deid', 'e1-1-table.ts'), 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('committed DICOM data dictionary', () => {
  it('is exactly what the generator makes from the installed dcmjs dictionary', () => {
    const dir = mkdtempSync(join(tmpdir(), 'paradim-dict-'));
    try {
      const out = join(dir, 'dictionary-data.ts');
      execFileSync(process.execPath, [join(repoRoot, 'scripts', 'generate-dicom-dictionary.mjs'), out]);
      expect(readFileSync(out, 'utf8')).toBe(readFileSync(join(repoRoot, 'shared', 'dicom', 'dictionary-data.ts'), 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
