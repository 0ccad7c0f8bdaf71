import { randomUUID } from 'node:crypto';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { inflateRawSync } from 'node:zlib';
import type { Logger } from 'pino';
import { MemorySource } from '../../shared/dicom/byte-source.js';
import { keywordOf } from '../../shared/dicom/dictionary.js';
import type { DicomElement, DicomFile } from '../../shared/dicom/model.js';
import { parseDicom } from '../../shared/dicom/parser.js';
import { formatTag } from '../../shared/dicom/tags.js';
import { decodeText } from '../../shared/dicom/values.js';
import { deidOptionCodes, parseDeidProfile, profileDigest, type DeidOption, type DeidProfile } from '../../shared/deid/profile.js';
import { AppError, isAppError } from '../../shared/errors/app-error.js';
import { toWireError } from '../../shared/ipc/envelope.js';
import type { ImportPreview, ImportProfile, ImportProfileRef, ImportScan } from '../../shared/ipc/contract.js';
import { checkBatchFolders, runBatch } from '../deid/batch.js';
import { createDeidEngine } from '../deid/engine-factory.js';
import { loadOrCreateKey } from '../deid/key-file.js';
import { nodeDeidCrypto } from '../deid/node-crypto.js';
import { passphraseSealer, readReidMap, type MapSealer } from '../deid/reid-map.js';
import { writeFileAtomic } from '../services/atomic-write.js';
import type { SecretVault } from '../services/secret-vault.js';
import type { EmitEvent } from '../services/workstation-services.js';
import { scanFolder } from './scan.js';

const builtins: Record<ImportProfile['id'], { name: string; description: string; options: readonly DeidOption[] }> = {
  basic: {
    name: 'Basic Profile',
    description: 'PS3.15 Basic Application Confidentiality Profile, no options: dates, identifiers and descriptions removed.',
    options: [],
  },
  longitudinal: {
    name: 'Longitudinal research',
    description: 'Basic Profile keeping the time between studies (dates shifted per patient) and age, sex, size and weight.',
    options: ['retainLongitudinalModifiedDates', 'retainPatientCharacteristics'],
  },
  research: {
    name: 'Imaging research',
    description: 'Longitudinal research plus device identity (scanner model, serial) and cleaned, kept descriptions.',
    options: ['retainLongitudinalModifiedDates', 'retainPatientCharacteristics', 'retainDeviceIdentity', 'cleanDescriptors'],
  },
};

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 48) || 'profile';
}

function inside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/** One readable line per value: text as is, binary and sequences summarised. */
function display(element: DicomElement | undefined, utf8: boolean): string {
  if (element === undefined) return '';
  if (element.items !== undefined) return `${element.items.length} item(s)`;
  if (element.value === undefined) return `${element.valueLength} bytes`;
  if (['OB', 'OW', 'OF', 'OD', 'OL', 'OV', 'UN', 'US', 'SS', 'UL', 'SL', 'FL', 'FD', 'AT', 'UV', 'SV'].includes(element.vr)) return `${element.valueLength} bytes (${element.vr})`;
  const text = decodeText(element.value, utf8);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

/**
 * The workstation's import: scan a folder or CD, preview what the profile does to a sample, de-identify the batch
 * with progress and cancel, and report. Pseudonym keys are per project profile and kept in the user data folder;
 * the re-identification map is sealed with the vault (Electron safeStorage) and never leaves the workstation.
 */
export class ImportService {
  readonly #tasks = new Map<string, AbortController>();

  constructor(
    private readonly options: {
      readonly userDataDir: string;
      readonly vault: SecretVault;
      readonly emit: EmitEvent;
      readonly log: Logger;
      /** The bundled de-identification worker; without it the batch runs in this thread. */
      readonly workerScript: string | null;
      readonly workers: number;
    },
  ) {}

  profiles(): ImportProfile[] {
    return Object.entries(builtins).map(([id, profile]) => ({
      id: id as ImportProfile['id'],
      name: profile.name,
      description: profile.description,
      options: profile.options.map((option) => deidOptionCodes[option][1]),
    }));
  }

  async #profile(ref: ImportProfileRef): Promise<{ profile: DeidProfile; keyName: string }> {
    if ('builtin' in ref) {
      const builtin = builtins[ref.builtin];
      const options = Object.fromEntries(builtin.options.map((option) => [option, true]));
      return { profile: parseDeidProfile({ name: builtin.name, version: '1', options }), keyName: `builtin-${ref.builtin}` };
    }
    let text: string;
    try {
      text = await readFile(ref.file, 'utf8');
    } catch {
      throw new AppError('DEID_PROFILE_INVALID', [{ path: ref.file, issue: 'cannot be read' }]);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new AppError('DEID_PROFILE_INVALID', [{ path: ref.file, issue: 'is not valid JSON' }]);
    }
    const profile = parseDeidProfile(json);
    return { profile, keyName: slug(profile.name) };
  }

  async #key(keyName: string): Promise<Uint8Array> {
    return (await loadOrCreateKey(join(this.options.userDataDir, 'deid', 'keys', `${keyName}.key`))).key;
  }

  #sealer(): MapSealer {
    return { seal: (plain) => this.options.vault.encrypt(plain), open: (sealed) => this.options.vault.decrypt(sealed) };
  }

  async scan(folder: string): Promise<ImportScan> {
    const taskId = `scan-${randomUUID()}`;
    const progress = (done: number, bytes: number, state: 'running' | 'done' | 'failed'): void =>
      this.options.emit('task.progress', { taskId, label: 'Reading headers', done, total: null, bytesDone: bytes, state });
    try {
      const result = await scanFolder(resolve(folder), (done, bytes) => progress(done, bytes, 'running'));
      progress(result.files, result.bytes, 'done');
      return result;
    } catch (error) {
      progress(0, 0, 'failed');
      throw error;
    }
  }

  /** Before/after of every top-level attribute the profile changes in one file of the folder. */
  async preview(folder: string, file: string, ref: ImportProfileRef): Promise<ImportPreview> {
    const root = resolve(folder);
    const path = resolve(root, file);
    if (!inside(path, root)) throw new AppError('INVALID_INPUT', [{ path: 'file', issue: 'must be inside the chosen folder' }]);
    const { profile, keyName } = await this.#profile(ref);
    const key = await this.#key(keyName);
    const engine = createDeidEngine(profile, key);
    const digest = profileDigest(profile, nodeDeidCrypto(key));
    // The engine copies untouched ranges (pixel data) from the source, so the sample is read whole.
    const before = parseDicom(new MemorySource(await readFile(path)), { inflate: (data) => new Uint8Array(inflateRawSync(data)) });
    const outcome = engine.process(before);
    const summary = { name: profile.name, version: profile.version, digest };
    if (outcome.status !== 'deidentified') return { file, status: outcome.status, reason: outcome.reason, profile: summary, rows: [] };
    const chunks: Uint8Array[] = [outcome.meta];
    for (const segment of outcome.segments) chunks.push(segment instanceof Uint8Array ? segment : outcome.source.read(segment.offset, segment.length).slice());
    const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    const after: DicomFile = parseDicom(new MemorySource(bytes));
    const actionOf = new Map(outcome.report.actions.filter((a) => !a.path.includes('.') && !a.path.includes('[')).map((a) => [a.path, a.action]));
    const utf8 = (f: DicomFile): boolean => display(f.dataset.find((e) => e.tag === 0x00080005), false).includes('ISO_IR 192');
    const beforeByTag = new Map(before.dataset.map((e) => [e.tag, e]));
    const afterByTag = new Map(after.dataset.map((e) => [e.tag, e]));
    const tags = [...new Set([...beforeByTag.keys(), ...afterByTag.keys()])].filter((tag) => tag < 0x7fe00000).sort((a, b) => a - b);
    const rows = tags.flatMap((tag) => {
      const was = display(beforeByTag.get(tag), utf8(before));
      const now = display(afterByTag.get(tag), utf8(after));
      if (was === now && beforeByTag.has(tag) === afterByTag.has(tag)) return [];
      const label = formatTag(tag);
      const action = actionOf.get(label) ?? (!beforeByTag.has(tag) ? 'added' : !afterByTag.has(tag) ? 'X' : 'changed');
      return [{ tag: label, keyword: keywordOf(tag), before: was, after: afterByTag.has(tag) ? now : '(removed)', action }];
    });
    return { file, status: outcome.status, reason: null, profile: summary, rows };
  }

  /** Starts the batch; progress arrives as `task.progress`, the result as `import.finished`. */
  async start(folder: string, output: string, ref: ImportProfileRef): Promise<{ taskId: string }> {
    const input = resolve(folder);
    const out = resolve(output);
    const reportsDir = `${out}-reports`;
    checkBatchFolders({ input, output: out, reportsDir });
    const { profile, keyName } = await this.#profile(ref);
    const key = await this.#key(keyName);
    const taskId = `import-${randomUUID()}`;
    const controller = new AbortController();
    this.#tasks.set(taskId, controller);
    const { emit, log } = this.options;
    const label = `De-identifying with ${profile.name}`;
    void runBatch({
      input,
      output: out,
      reportsDir,
      profile,
      key,
      workers: this.options.workerScript === null ? 0 : this.options.workers,
      ...(this.options.workerScript === null ? {} : { workerScript: this.options.workerScript }),
      map: { path: join(this.options.userDataDir, 'deid', 'maps', `${keyName}.map`), sealer: this.#sealer() },
      signal: controller.signal,
      onProgress: (p) => emit('task.progress', { taskId, label, done: p.filesDone, total: p.filesTotal, bytesDone: p.bytesDone, state: 'running' }),
    })
      .then((summary) => {
        emit('task.progress', { taskId, label, done: summary.filesTotal, total: summary.filesTotal, bytesDone: summary.bytesIn, state: summary.cancelled ? 'cancelled' : 'done' });
        emit('import.finished', {
          taskId,
          output: out,
          reportsDir,
          counts: summary.counts,
          filesTotal: summary.filesTotal,
          bytesIn: summary.bytesIn,
          elapsedMs: summary.elapsedMs,
          cancelled: summary.cancelled,
          problems: summary.problems.slice(0, 1000).map((p) => ({ ...p })),
          profile: summary.profile,
        });
      })
      .catch((error: unknown) => {
        if (!isAppError(error)) log.error({ err: error }, 'import batch failed');
        emit('task.progress', { taskId, label, done: 0, total: null, bytesDone: 0, state: 'failed' });
        const wire = toWireError(error);
        emit('import.finished', { taskId, error: { code: wire.code, message: wire.message, details: [...wire.details] } });
      })
      .finally(() => this.#tasks.delete(taskId));
    return { taskId };
  }

  /**
   * The steward's export of a project's re-identification map: re-sealed with a passphrase of their choice in the
   * format `paradim-deid export-map` opens, written atomically with user-only permissions. Never leaves the machine
   * by itself.
   */
  async exportMap(ref: ImportProfileRef, destination: string, passphrase: string): Promise<{ patients: number }> {
    const { keyName } = await this.#profile(ref);
    const path = join(this.options.userDataDir, 'deid', 'maps', `${keyName}.map`);
    if (!existsSync(path)) throw new AppError('NOT_FOUND', [{ path: 'profile', issue: 'nothing has been de-identified with this profile on this workstation yet' }]);
    const map = await readReidMap(path, this.#sealer());
    await writeFileAtomic(resolve(destination), await passphraseSealer(passphrase).seal(JSON.stringify(map)), 0o600);
    this.options.log.info({ patients: Object.keys(map.patients).length }, 're-identification map exported by the steward');
    return { patients: Object.keys(map.patients).length };
  }

  cancel(taskId: string): void {
    const task = this.#tasks.get(taskId);
    if (task === undefined) throw new AppError('NOT_FOUND', [{ path: 'taskId', issue: 'no running import with this id' }]);
    task.abort();
  }

  dispose(): void {
    for (const task of this.#tasks.values()) task.abort();
  }
}
