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
const dcmjsLimit = Number(process.env.PARADIM_BENCH_DCMJS_FILES ?? 300);

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

// Warm the page cache once, then measure (median of the repeats, after a sync).
clean(join(work, 'out-cp'));
execFileSync('cp', ['-r', corpus, join(work, 'out-cp')]);
clean(join(work, 'out-cp'));
const cpRuns = [];
for (let i = 0; i < Number(process.env.PARADIM_BENCH_REPEATS ?? 3); i++) {
  execFileSync('sync');
  cpRuns.push(timed('cp', ['-r', corpus, join(work, 'out-cp')]));
  clean(join(work, 'out-cp'));
}
cpRuns.sort((a, b) => a.seconds - b.seconds);
const cp = row(`cp -r, median of ${cpRuns.length}`, cpRuns[Math.floor(cpRuns.length / 2)], files, bytes);

const loopRuns = [];
for (let i = 0; i < Number(process.env.PARADIM_BENCH_REPEATS ?? 3); i++) {
  execFileSync('sync');
  loopRuns.push(timed(process.execPath, [join(repo, 'scripts/bench-deid-copy-loop.mjs'), corpus, join(work, 'out-loop')]));
  clean(join(work, 'out-loop'));
}
loopRuns.sort((a, b) => a.seconds - b.seconds);
row(`Node read-write-unchanged loop, median of ${loopRuns.length}`, loopRuns[Math.floor(loopRuns.length / 2)], files, bytes);

const key = join(work, 'bench.key');
const repeats = Number(process.env.PARADIM_BENCH_REPEATS ?? 3);
/** The median of `repeats` runs (the machine may be shared: single runs are noisy). */
const runOurs = (label, extra) => {
  const runs = [];
  for (let i = 0; i < repeats; i++) {
    const out = join(work, 'out-deid');
    clean(out);
    clean(`${out}-reports`);
    execFileSync('sync');
    const run = timed(process.execPath, [cli, corpus, out, '--quiet', '--key', key, '--reports', `${out}-reports`, '--workers', String(workers), ...extra]);
    if (run.status !== 0) {
      console.error(run.stdout, run.stderr);
      throw new Error(`paradim-deid exited with ${run.status}`);
    }
    runs.push(run);
    clean(out);
    clean(`${out}-reports`);
  }
  runs.sort((a, b) => a.seconds - b.seconds);
  return row(`${label}, median of ${repeats}`, runs[Math.floor(runs.length / 2)], files, bytes);
};
const ours = runOurs(`paradim-deid (${workers} workers, group commit: default)`, []);
const oursEach = runOurs(`paradim-deid (${workers} workers, fsync each file)`, ['--durability', 'each']);
const oursNone = runOurs(`paradim-deid (${workers} workers, no flush)`, ['--durability', 'none']);

const baselineOut = join(work, 'out-dcmjs');
clean(baselineOut);
const baseline = timed(process.execPath, [join(repo, 'scripts/bench-deid-dcmjs-baseline.mjs'), corpus, baselineOut, String(dcmjsLimit)]);
clean(baselineOut);
const baselineResult = JSON.parse(baseline.stdout.trim().split('\n').pop() ?? '{}');
rows.push({
  name: `dcmjs read-clean-write (first ${baselineResult.files} files)`,
  seconds: baselineResult.seconds,
  filesPerSecond: baselineResult.files / baselineResult.seconds,
  mbPerSecond: baselineResult.bytes / 1e6 / baselineResult.seconds,
  rss: baseline.rss,
  cpu: undefined,
});
const dcmjsRate = rows.at(-1).filesPerSecond;

console.log('');
console.log('| run | wall s | CPU s (user+sys) | files/s | MB/s | peak RSS MB |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  const cpu = r.cpu === undefined ? 'n/a' : r.cpu.toFixed(2);
  console.log(`| ${r.name} | ${r.seconds.toFixed(2)} | ${cpu} | ${r.filesPerSecond.toFixed(0)} | ${r.mbPerSecond.toFixed(0)} | ${r.rss === undefined ? 'n/a' : (r.rss / 1048576).toFixed(0)} |`);
}
console.log('(CPU seconds do not depend on other load on a shared machine; wall seconds do.)');
console.log(`Load average at end: ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
console.log('');
const verdict = (ok) => (ok ? 'met' : 'NOT met');
for (const r of [ours, oursEach, oursNone]) {
  console.log(`${r.name}: ${r.filesPerSecond.toFixed(0)} files/s (target ≥ 1000: ${verdict(r.filesPerSecond >= 1000)}), ` +
    `${(r.filesPerSecond / dcmjsRate).toFixed(1)}× dcmjs (target ≥ 8×: ${verdict(r.filesPerSecond / dcmjsRate >= 8)}), ` +
    `${(r.seconds / cp.seconds).toFixed(2)}× cp -r wall time (target ≤ 2×: ${verdict(r.seconds / cp.seconds <= 2)}), ` +
    `peak RSS ${r.rss === undefined ? 'n/a' : `${(r.rss / 1048576).toFixed(0)} MB (target ≤ 250: ${verdict(r.rss <= 250 * 1048576)})`}`);
}
