import { randomBytes, randomUUID } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { AppError } from '../../shared/errors/app-error.js';
import { describeNetworkError } from '../services/companion-api.js';
import type { EmitEvent } from '../services/workstation-services.js';

const batchFiles = 10;
const batchBytes = 64 * 1024 * 1024;

async function* dicomFiles(root: string, dir = root): AsyncGenerator<string> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* dicomFiles(root, path);
    else if (entry.isFile() && entry.name.endsWith('.dcm')) yield path;
  }
}

export interface PushResult {
  stored: number;
  failed: Array<{ file: string; reason: string }>;
}

/**
 * Pushes a folder of de-identified files to an album over STOW-RS (the album's DICOMweb root), in batches, with
 * progress. The server files each series into the album; per-instance refusals come back with their reason.
 */
export async function pushFolder(options: {
  folder: string;
  albumUrl: string;
  bearer: () => Promise<string>;
  emit: EmitEvent;
}): Promise<PushResult> {
  const taskId = `push-${randomUUID()}`;
  const files: string[] = [];
  try {
    for await (const file of dicomFiles(options.folder)) files.push(file);
  } catch {
    throw new AppError('INVALID_INPUT', [{ path: options.folder, issue: 'this folder cannot be read' }]);
  }
  if (files.length === 0) throw new AppError('INVALID_INPUT', [{ path: options.folder, issue: 'has no de-identified files (.dcm) to push' }]);
  let stored = 0;
  let bytesDone = 0;
  const failed: Array<{ file: string; reason: string }> = [];
  const progress = (state: 'running' | 'done' | 'failed'): void =>
    options.emit('task.progress', { taskId, label: 'Pushing to the album', done: stored + failed.length, total: files.length, bytesDone, state });

  let batch: string[] = [];
  let size = 0;
  const send = async (): Promise<void> => {
    if (batch.length === 0) return;
    const boundary = `paradim-${randomBytes(12).toString('hex')}`;
    const parts = await Promise.all(batch.map((file) => readFile(file)));
    const body = Buffer.concat([
      ...parts.flatMap((part) => [Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\nContent-Length: ${part.length}\r\n\r\n`), part, Buffer.from('\r\n')]),
      Buffer.from(`--${boundary}--\r\n`),
    ]);
    let response: Response;
    try {
      response = await fetch(`${options.albumUrl}/studies`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${await options.bearer()}`,
          'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
          accept: 'application/dicom+json',
        },
        body,
        signal: AbortSignal.timeout(300_000),
      });
    } catch (error) {
      progress('failed');
      throw new AppError('SERVER_UNREACHABLE', [{ path: options.albumUrl, issue: describeNetworkError(error) }], { cause: error });
    }
    if (response.status === 401 || response.status === 403) {
      progress('failed');
      throw new AppError(response.status === 401 ? 'UNAUTHENTICATED' : 'FORBIDDEN', [{ path: 'album', issue: 'you may not add series to this album' }]);
    }
    const answer = (await response.json().catch(() => ({}))) as Record<string, { Value?: Array<Record<string, { Value?: unknown[] }>> }>;
    const referenced = answer['00081199']?.Value?.length ?? 0;
    const failures = answer['00081198']?.Value ?? [];
    const warning = response.headers.get('warning') ?? '';
    stored += referenced;
    // The answer names failed instances by UID, which the steward cannot map to files; report them per batch.
    if (failures.length > 0 || (referenced === 0 && response.status >= 400)) {
      const reason = warning !== '' ? warning.replace(/^\d{3} \S+ /, '').replace(/^"|"$/g, '') : `the server refused ${failures.length || batch.length} instance(s) (HTTP ${response.status})`;
      const count = failures.length || batch.length - referenced;
      for (const file of batch.slice(batch.length - count)) failed.push({ file: relative(options.folder, file).split(sep).join('/'), reason });
    }
    bytesDone += size;
    progress('running');
    batch = [];
    size = 0;
  };

  for (const file of files) {
    const bytes = (await stat(file)).size;
    if (batch.length >= batchFiles || (batch.length > 0 && size + bytes > batchBytes)) await send();
    batch.push(file);
    size += bytes;
  }
  await send();
  progress('done');
  return { stored, failed };
}
