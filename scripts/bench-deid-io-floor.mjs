// Reference for `npm run bench:deid`: the durable file I/O that paradim-deid does by default, and nothing else.
// Worker threads (as many as the CLI's) copy each input whole into a temp file beside its output with the kernel copy
// of app/native/copy-range.node (copy_file_range) and start its writeback (sync_file_range); every 256 files the
// output filesystem is flushed once (`sync -f`, i.e. syncfs), then the temp files are renamed and their folders
// fsynced: the group commit of main/deid/batch.ts. No DICOM parsing, no de-identification, no reports: the floor that
// any implementation with the same guarantee (no output gets its final name before its data are on disk) meets on
// this machine, in the same filesystem state.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, threadId, workerData } from 'node:worker_threads';

const repo = fileURLToPath(new URL('..', import.meta.url));
const GROUP = 256;

if (isMainThread) {
  const [input, output, workersText] = process.argv.slice(2);
  const workerCount = Number(workersText ?? 2);
  const started = performance.now();
  const files = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else files.push(join(dir, entry.name));
    }
  };
  walk(input);
  let bytes = 0;
  let next = 0;
  let pending = [];
  // Groups are flushed one after the other in the background while the workers go on, as in the CLI.
  let flushing = Promise.resolve();
  const flushGroup = () => {
    if (pending.length === 0) return;
    const group = pending;
    pending = [];
    flushing = flushing.then(async () => {
      await promisify(execFile)('sync', ['-f', output]);
      const dirs = new Set();
      for (const { temp, final } of group) {
        renameSync(temp, final);
        dirs.add(dirname(final));
      }
      for (const dir of dirs) {
        const fd = openSync(dir, 'r');
        fsyncSync(fd);
        closeSync(fd);
      }
    });
  };
  await new Promise((resolve, reject) => {
    let running = workerCount;
    for (let w = 0; w < workerCount; w++) {
      const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { output, repo } });
      const feed = () => {
        if (next >= files.length) {
          worker.postMessage(null);
          return;
        }
        const batch = files.slice(next, next + 16).map((path) => ({ path, rel: relative(input, path) }));
        next += batch.length;
        worker.postMessage(batch);
      };
      worker.on('message', (done) => {
        for (const entry of done) {
          bytes += entry.size;
          pending.push(entry);
          if (pending.length >= GROUP) flushGroup();
        }
        feed();
      });
      worker.on('error', reject);
      worker.on('exit', () => {
        if (--running === 0) resolve();
      });
      feed();
    }
  });
  flushGroup();
  await flushing;
  process.stdout.write(`${JSON.stringify({ files: files.length, bytes, seconds: (performance.now() - started) / 1000 })}\n`);
} else {
  const { output } = workerData;
  const native = createRequire(import.meta.url)(join(workerData.repo, 'app/native/copy-range.node'));
  const made = new Set();
  let counter = 0;
  parentPort.on('message', (batch) => {
    if (batch === null) {
      parentPort.close();
      return;
    }
    const done = [];
    for (const { path, rel } of batch) {
      const final = join(output, rel);
      const dir = dirname(final);
      if (!made.has(dir)) {
        mkdirSync(dir, { recursive: true });
        made.add(dir);
      }
      const temp = join(dir, `.floor-${process.pid}-${threadId}-${counter++}.tmp`);
      const inFd = openSync(path, 'r');
      const size = fstatSync(inFd).size;
      const outFd = openSync(temp, 'wx', 0o600);
      let copied = 0;
      while (copied < size) {
        const n = native.copyRange(inFd, copied, outFd, copied, size - copied);
        if (n <= 0) throw new Error(`${path} shrank while it was copied`);
        copied += n;
      }
      native.startWriteback(outFd);
      closeSync(outFd);
      closeSync(inFd);
      done.push({ temp, final, size });
    }
    parentPort.postMessage(done);
  });
}
