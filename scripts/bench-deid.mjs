// `npm run bench:deid`: generates the scale corpus (≥ 2,000 uncompressed CT instances, ≥ 1 GB) with the project's
// generator and prints files/s, MB/s and peak RSS for paradim-deid beside a dcmjs read–clean–write baseline and
// `cp -r`, all on the same warm page cache. Set PARADIM_BENCH_DIR to choose the work folder (default: tmp).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateScaleCorpus } from './generate-scale-corpus.mjs';

const repo = fileURLToPath(new URL('..', import.meta.url));
const work = process.env.PARADIM_BENCH_DIR ?? join(tmpdir(), 'paradim-deid-bench');
const corpus = join(work, 'corpus');
const instances = Number(process.env.PARADIM_BENCH_INSTANCES ?? 2000);
const marker = join(work, `corpus-${instances}.done`);
const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
// The dcmjs baseline processes every file by default and, like every other contender, is timed as a whole process
// (start, module loading, walk, loop): timing only its loop over a first slice would leave out what our CLI's figure
// includes. PARADIM_BENCH_DCMJS_FILES limits it for a quick look.
const dcmjsLimit = Number(process.env.PARADIM_BENCH_DCMJS_FILES ?? Infinity);

function folderStats(folder) {
  let files = 0;
  let bytes = 0;
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const info = statSync(path);
      if (info.isDirectory()) walk(path);
      else {
        files++;
        bytes += info.size;
      }
    }
  };
  walk(folder);
  return { files, bytes };
}

/** Runs a command under /usr/bin/time: wall seconds and peak RSS (bytes). */
function timed(command, args) {
  const started = performance.now();
  const result = timeBin === undefined
    ? spawnSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 26 })
    : spawnSync(timeBin, ['-f', 'TIME %e %M %U %S', command, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const wall = (performance.now() - started) / 1000;
  const match = /TIME ([\d.]+) (\d+) ([\d.]+) ([\d.]+)/.exec(result.stderr ?? '');
  return {
    seconds: wall,
    rss: match === null ? undefined : Number(match[2]) * 1024,
    cpu: match === null ? undefined : Number(match[3]) + Number(match[4]),
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
  };
}

const clean = (folder) => rmSync(folder, { recursive: true, force: true });

if (!existsSync(marker)) {
  clean(corpus);
  console.log(`Generating ${instances} CT instances in ${corpus} ...`);
  const generated = generateScaleCorpus(corpus, instances);
  writeFileSync(marker, JSON.stringify(generated));
}
const { files, bytes } = folderStats(corpus);
console.log(`Load average at start: ${loadavg().map((v) => v.toFixed(2)).join(' ')} (the machine may be shared; figures are medians)`);
console.log(`Corpus: ${files} files, ${(bytes / 1e9).toFixed(2)} GB (${corpus}); ${availableParallelism()} CPUs; Node ${process.version}`);
if (files < 2000 || bytes < 1e9) console.warn('WARNING: the corpus is smaller than the target (2,000 files, 1 GB)');

const workers = Number(process.env.PARADIM_BENCH_WORKERS ?? Math.min(availableParallelism(), 8));
const cli = join(repo, 'app/deid/paradim-deid.cjs');
const rows = [];
const row = (name, run, count, size) => {
  const r = { name, seconds: run.seconds, cpu: run.cpu, filesPerSecond: count / run.seconds, mbPerSecond: size / 1e6 / run.seconds, rss: run.rss };
  rows.push(r);
  return r;
};

// Warm the page cache once, then measure in rounds: each round runs every contender once, in the same order, so that
// slow periods of a shared machine, and the cost of creating files right after deleting many (ext4 without a journal
// skips recently freed inodes), fall on all of them alike. Figures are medians over the rounds, each after a sync.
clean(join(work, 'out-cp'));
execFileSync('cp', ['-r', corpus, join(work, 'out-cp')]);
clean(join(work, 'out-cp'));
const key = join(work, 'bench.key');
const repeats = Number(process.env.PARADIM_BENCH_REPEATS ?? 3);
const contenders = [
  { label: 'cp -r', run: (out) => timed('cp', ['-r', corpus, out]) },
  { label: 'Node read-write-unchanged loop', run: (out) => timed(process.execPath, [join(repo, 'scripts/bench-deid-copy-loop.mjs'), corpus, out]) },
  // The default durability's I/O alone (kernel copy, early writeback, group flush, renames), without DICOM work.
  { label: `durable copy, no DICOM work (${workers} threads, same I/O as the default)`, run: (out) => timed(process.execPath, [join(repo, 'scripts/bench-deid-io-floor.mjs'), corpus, out, String(workers)]) },
  ...[
    [`paradim-deid (${workers} workers, group commit: default)`, []],
    [`paradim-deid (${workers} workers, fsync each file)`, ['--durability', 'each']],
    [`paradim-deid (${workers} workers, no flush)`, ['--durability', 'none']],
  ].map(([label, extra]) => ({
    label,
    run: (out) => {
      const result = timed(process.execPath, [cli, corpus, out, '--quiet', '--key', key, '--reports', `${out}-reports`, '--workers', String(workers), ...extra]);
      if (result.status !== 0) {
        console.error(result.stdout, result.stderr);
        throw new Error(`paradim-deid exited with ${result.status}`);
      }
      return result;
    },
  })),
];
const runs = contenders.map(() => []);
for (let round = 0; round < repeats; round++) {
  contenders.forEach((contender, index) => {
    const out = join(work, 'out-run');
    clean(out);
    clean(`${out}-reports`);
    execFileSync('sync');
    runs[index].push(contender.run(out));
    clean(out);
    clean(`${out}-reports`);
  });
}
const [cp, , floor, ours, oursEach, oursNone] = contenders.map((contender, index) => {
  const sorted = runs[index].sort((a, b) => a.seconds - b.seconds);
  return row(`${contender.label}, median of ${repeats}`, sorted[Math.floor(sorted.length / 2)], files, bytes);
});

const baselineOut = join(work, 'out-dcmjs');
clean(baselineOut);
const baseline = timed(process.execPath, [join(repo, 'scripts/bench-deid-dcmjs-baseline.mjs'), corpus, baselineOut, String(dcmjsLimit)]);
clean(baselineOut);
if (baseline.status !== 0) throw new Error(`the dcmjs baseline exited with ${baseline.status}: ${baseline.stderr}`);
const baselineResult = JSON.parse(baseline.stdout.trim().split('\n').pop() ?? '{}');
rows.push({
  name: `dcmjs read-clean-write (${baselineResult.files === files ? 'all' : `first ${baselineResult.files}`} files, whole process)`,
  seconds: baseline.seconds,
  filesPerSecond: baselineResult.files / baseline.seconds,
  mbPerSecond: baselineResult.bytes / 1e6 / baseline.seconds,
  rss: baseline.rss,
  cpu: baseline.cpu,
});
const dcmjsLoopRate = baselineResult.files / baselineResult.seconds;
const dcmjsRate = rows.at(-1).filesPerSecond;

console.log('');
console.log('| run | wall s | CPU s (user+sys) | files/s | MB/s | peak RSS MB |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  const cpu = r.cpu === undefined ? 'n/a' : r.cpu.toFixed(2);
  console.log(`| ${r.name} | ${r.seconds.toFixed(2)} | ${cpu} | ${r.filesPerSecond.toFixed(0)} | ${r.mbPerSecond.toFixed(0)} | ${r.rss === undefined ? 'n/a' : (r.rss / 1048576).toFixed(0)} |`);
}
console.log('(CPU seconds do not depend on other load on a shared machine; wall seconds do.)');
console.log(`(dcmjs loop alone, without process start and module loading: ${dcmjsLoopRate.toFixed(0)} files/s.)`);
console.log(`Load average at end: ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
console.log('');
const verdict = (ok) => (ok ? 'met' : 'NOT met');
for (const r of [ours, oursEach, oursNone]) {
  console.log(`${r.name}: ${r.filesPerSecond.toFixed(0)} files/s (target ≥ 1000: ${verdict(r.filesPerSecond >= 1000)}), ` +
    `${(r.filesPerSecond / dcmjsRate).toFixed(1)}× dcmjs (target ≥ 8×: ${verdict(r.filesPerSecond / dcmjsRate >= 8)}), ` +
    `${(r.seconds / cp.seconds).toFixed(2)}× cp -r wall time (target ≤ 2×: ${verdict(r.seconds / cp.seconds <= 2)}), ` +
    `peak RSS ${r.rss === undefined ? 'n/a' : `${(r.rss / 1048576).toFixed(0)} MB (target ≤ 250: ${verdict(r.rss <= 250 * 1048576)})`}`);
}
console.log(`Durable copy without DICOM work (the default's I/O alone): ${floor.filesPerSecond.toFixed(0)} files/s, ` +
  `${(floor.filesPerSecond / dcmjsRate).toFixed(1)}× dcmjs; paradim-deid by default takes ${(ours.seconds / floor.seconds).toFixed(2)}× its time.`);
