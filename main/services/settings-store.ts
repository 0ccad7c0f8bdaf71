import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { settingsSchema, type Settings } from '../../shared/ipc/contract.js';
import { writeFileAtomic } from './atomic-write.js';

export const defaultSettings: Settings = { serverUrl: null };

/**
 * The workstation's settings: one JSON file in the user data folder, validated on read, written atomically.
 * A damaged file is set aside (never deleted) and defaults are used, so the user loses nothing silently.
 */
export class SettingsStore {
  readonly #file: string;
  readonly #log: Logger;
  #current: Settings = defaultSettings;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(dir: string, log: Logger) {
    this.#file = join(dir, 'settings.json');
    this.#log = log;
  }

  static async open(dir: string, log: Logger): Promise<SettingsStore> {
    const store = new SettingsStore(dir, log);
    await store.#load();
    return store;
  }

  get(): Settings {
    return this.#current;
  }

  /** Applies a validated patch; concurrent updates are serialised so none is lost. */
  update(patch: { readonly [K in keyof Settings]?: Settings[K] | undefined }): Promise<Settings> {
    const defined = Object.fromEntries(Object.entries(patch).filter((entry) => entry[1] !== undefined));
    const run = this.#queue.then(async () => {
      const next = settingsSchema.parse({ ...this.#current, ...defined });
      await writeFileAtomic(this.#file, `${JSON.stringify(next, null, 2)}\n`);
      this.#current = next;
      return next;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.#file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const result = settingsSchema.safeParse({ ...defaultSettings, ...(typeof parsed === 'object' ? parsed : {}) });
    if (parsed !== undefined && result.success) {
      this.#current = result.data;
      return;
    }
    const aside = `${this.#file}.damaged-${Date.now()}`;
    await rename(this.#file, aside);
    this.#log.warn({ setAside: aside }, 'settings file was damaged; it was set aside and defaults are in use');
  }
}
