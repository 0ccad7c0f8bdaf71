import { mkdtemp, readdir, readFile, writeFile, chmod, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors/app-error.js';
import { writeFileAtomic } from './atomic-write.js';

describe('writeFileAtomic', () => {
  it('replaces the content, leaves no temp file and keeps the file private', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'paradim-atomic-'));
    const target = join(dir, 'settings.json');
    await writeFile(target, 'old');
    await writeFileAtomic(target, 'new');
    expect(await readFile(target, 'utf8')).toBe('new');
    expect(await readdir(dir)).toEqual(['settings.json']);
    expect((await stat(target)).mode & 0o777).toBe(0o600);
  });

  it('keeps the old content and reports an AppError when the folder cannot be written', async () => {
    if (process.getuid?.() === 0) {
      // root ignores directory permissions; use a path below a regular file instead.
      const dir = await mkdtemp(join(tmpdir(), 'paradim-atomic-'));
      await writeFile(join(dir, 'file'), 'x');
      await expect(writeFileAtomic(join(dir, 'file', 'child.json'), 'new')).rejects.toBeInstanceOf(AppError);
      return;
    }
    const dir = await mkdtemp(join(tmpdir(), 'paradim-atomic-'));
    const target = join(dir, 'settings.json');
    await writeFile(target, 'old');
    await chmod(dir, 0o500);
    await expect(writeFileAtomic(target, 'new')).rejects.toMatchObject({ code: 'STORAGE_WRITE_FAILED' });
    await chmod(dir, 0o700);
    expect(await readFile(target, 'utf8')).toBe('old');
  });
});
