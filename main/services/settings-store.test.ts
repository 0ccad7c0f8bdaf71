import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { SettingsStore, defaultSettings } from './settings-store.js';

const log = pino({ level: 'silent' });

describe('SettingsStore', () => {
  it('starts from defaults and persists updates across reopen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'paradim-settings-'));
    const store = await SettingsStore.open(dir, log);
    expect(store.get()).toEqual(defaultSettings);
    await store.update({ serverUrl: 'https://pacs.example.org/paradim' });
    await store.update({ serverUrl: 'https://pacs.example.org/paradim2' });
    const again = await SettingsStore.open(dir, log);
    expect(again.get()).toEqual({ serverUrl: 'https://pacs.example.org/paradim2' });
  });

  it('sets a damaged file aside instead of deleting it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'paradim-settings-'));
    await writeFile(join(dir, 'settings.json'), '{"serverUrl": 12');
    const store = await SettingsStore.open(dir, log);
    expect(store.get()).toEqual(defaultSettings);
    const files = await readdir(dir);
    const aside = files.find((name) => name.startsWith('settings.json.damaged-'));
    expect(aside).toBeDefined();
    expect(await readFile(join(dir, aside ?? ''), 'utf8')).toBe('{"serverUrl": 12');
  });

  it('serialises concurrent updates: the last one wins and no temp file is left', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'paradim-settings-'));
    const store = await SettingsStore.open(dir, log);
    const writes = Array.from({ length: 8 }, (_, i) => store.update({ serverUrl: `http://127.0.0.1:9/${i}` }));
    await Promise.all(writes);
    expect((await SettingsStore.open(dir, log)).get()).toEqual({ serverUrl: 'http://127.0.0.1:9/7' });
    expect((await readdir(dir)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });
});
