import { parentPort, workerData } from 'node:worker_threads';
import type { DeidProfile } from '../../shared/deid/profile.js';
import { createDeidEngine } from './engine-factory.js';
import { processFile, type Durability, type FileResult, type FileTask } from './process-file.js';

/**
 * Worker thread of the batch runner: de-identifies the files it is sent, a chunk at a time, one file after the other,
 * and answers each chunk with one message (a message per file costs more than a small file's DICOM work).
 */
const data = workerData as { profile: DeidProfile; key: Uint8Array; outDir: string; durability: Durability };
const engine = createDeidEngine(data.profile, data.key);
parentPort?.on('message', (message: { tasks: { id: number; task: FileTask }[] }) => {
  const results: { id: number; result: Omit<FileResult, 'report'> }[] = [];
  for (const { id, task } of message.tasks) {
    // The report travels as its JSON line only (cheaper to post than the object).
    const { report: _report, ...result } = processFile(task, engine, { outDir: data.outDir, durability: data.durability });
    results.push({ id, result });
  }
  parentPort?.postMessage({ results });
});
