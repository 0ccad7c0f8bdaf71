import { parentPort, workerData } from 'node:worker_threads';
import type { DeidProfile } from '../../shared/deid/profile.js';
import { createDeidEngine } from './engine-factory.js';
import { processFile, type Durability, type FileTask } from './process-file.js';

/** Worker thread of the batch runner: de-identifies the files it is sent, one at a time. */
const data = workerData as { profile: DeidProfile; key: Uint8Array; outDir: string; durability: Durability };
const engine = createDeidEngine(data.profile, data.key);
parentPort?.on('message', (message: { id: number; task: FileTask }) => {
  // The report travels as its JSON line only (cheaper to post than the object).
  const { report: _report, ...result } = processFile(message.task, engine, { outDir: data.outDir, durability: data.durability });
  parentPort?.postMessage({ id: message.id, result });
});
