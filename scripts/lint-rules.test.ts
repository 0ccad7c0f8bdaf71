import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// Proves that the architecture rules of DEVELOPERS.md are enforced by ESLint, not by review.
const root = join(import.meta.dirname, '..');
const eslint = new ESLint({ cwd: root });

async function ruleIds(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, filePath) });
  return (result?.messages ?? []).map((message) => message.ruleId ?? `fatal: ${message.message}`);
}

describe('architecture lint rules', () => {
  it('refuses renderer/ importing main/', async () => {
    expect(await ruleIds("import { defaultUserDataDir } from '../main/paths.js';\nexport const x = defaultUserDataDir;\n", 'renderer/probe.ts')).toContain(
      'import-x/no-restricted-paths',
    );
  });

  it('refuses shared/ importing node:fs, and Node globals in shared/', async () => {
    expect(await ruleIds("import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n", 'shared/probe.ts')).toContain('no-restricted-imports');
    expect(await ruleIds("import { readFileSync } from 'fs';\nexport const x = readFileSync;\n", 'shared/probe.ts')).toContain('no-restricted-imports');
    expect(await ruleIds("import { readFile } from 'fs/promises';\nexport const x = readFile;\n", 'shared/probe.ts')).toContain('no-restricted-imports');
    expect(await ruleIds('export const x = process.env.HOME;\n', 'shared/probe.ts')).toContain('no-restricted-globals');
    // Our own folders that share a built-in's name (domain, events) are not mistaken for it.
    expect(await ruleIds("import { memberFlags } from './domain/access.js';\nexport const x = memberFlags;\n", 'shared/probe.ts')).not.toContain('no-restricted-imports');
  });

  it('refuses main/ and server/ importing each other, and shared/ importing either', async () => {
    expect(await ruleIds("import { buildServer } from '../server/app.js';\nexport const x = buildServer;\n", 'main/probe.ts')).toContain(
      'import-x/no-restricted-paths',
    );
    expect(await ruleIds("import { defaultUserDataDir } from '../main/paths.js';\nexport const x = defaultUserDataDir;\n", 'server/probe.ts')).toContain(
      'import-x/no-restricted-paths',
    );
    expect(await ruleIds("import { buildServer } from '../server/app.js';\nexport const x = buildServer;\n", 'shared/probe.ts')).toContain(
      'import-x/no-restricted-paths',
    );
  });

  it('keeps Cornerstone inside renderer/viewer-engine/ and electron inside main/', async () => {
    const code = "import { init } from '@cornerstonejs/core';\nexport const x = init;\n";
    expect(await ruleIds(code, 'renderer/screens/probe.ts')).toContain('no-restricted-imports');
    expect(await ruleIds(code, 'renderer/viewer-engine/probe.ts')).not.toContain('no-restricted-imports');
    expect(await ruleIds("import { app } from 'electron';\nexport const x = app;\n", 'renderer/probe.ts')).toContain('no-restricted-imports');
  });

  it('refuses default exports and any', async () => {
    expect(await ruleIds('export default 1;\n', 'shared/probe.ts')).toContain('import-x/no-default-export');
    expect(await ruleIds('export const x = (v: any) => v;\n', 'shared/probe.ts')).toContain('@typescript-eslint/no-explicit-any');
  });

  const cycleDir = join(root, 'shared', `lint-probe-${process.pid}`);
  it('refuses import cycles', async () => {
    await mkdir(cycleDir, { recursive: true });
    try {
      await writeFile(join(cycleDir, 'a.ts'), "import { b } from './b.js';\nexport const a = (): number => b() + 1;\n");
      await writeFile(join(cycleDir, 'b.ts'), "import { a } from './a.js';\nexport const b = (): number => a() - 1;\n");
      const [result] = await eslint.lintFiles([join(cycleDir, 'a.ts')]);
      expect(result?.messages.map((message) => message.ruleId)).toContain('import-x/no-cycle');
    } finally {
      await rm(cycleDir, { recursive: true, force: true });
    }
  });

  it('accepts the repository as it is', async () => {
    const results = await eslint.lintFiles(['shared', 'main', 'renderer', 'server']);
    const problems = results.flatMap((result) => result.messages.map((message) => `${result.filePath}:${message.line} ${message.ruleId}`));
    expect(problems).toEqual([]);
  });
});
