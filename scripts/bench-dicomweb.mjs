// DICOMweb benchmark: our companion server and Orthanc (Debian, SQLite + filesystem, DICOMweb plugin) side by side on
// the same machine and the same generated corpus. Prints both figures, the ratio and whether each target is met:
// STOW ≥ 2× Orthanc, every QIDO p95 ≤ Orthanc's, WADO-RS series ≥ Orthanc, metadata ≥ 2× Orthanc; durability on for both
// (our server fsyncs files, folders and the SQLite WAL before answering; Orthanc runs with SyncStorageArea).
//
// Usage: npm run bench:dicomweb [-- --instances 2000 --rows 512 --columns 512 --queries 200 --verbose]
// --verbose prints each STOW round (wall time, both servers' CPU, the machine's idle and I/O wait, our server's busiest
// threads) and each WADO/metadata pass. PARADIM_BENCH_NODE_ARGS passes flags to our server's node (e.g. --cpu-prof).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeElement } from './generate-scale-corpus.mjs';

const { values } = parseArgs({
  options: {
    instances: { type: 'string', default: '2000' },
    rows: { type: 'string', default: '512' },
    columns: { type: 'string', default: '512' },
    queries: { type: 'string', default: '200' },
    keep: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});
const totalInstances = Number(values.instances);
const rows = Number(values.rows);
const columns = Number(values.columns);
const queryRounds = Number(values.queries);
const perSeries = 10;
const seriesPerStudy = 2;
const repoRoot = new URL('..', import.meta.url).pathname;
const orthancBinary = '/usr/sbin/Orthanc';
const dicomwebPlugin = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';

for (const [path, what] of [
  [join(repoRoot, 'app/server/cli.cjs'), 'the server build (npm run build)'],
  [orthancBinary, 'Orthanc (apt-get install orthanc)'],
  [dicomwebPlugin, 'the Orthanc DICOMweb plugin (apt-get install orthanc-dicomweb)'],
]) {
  if (!existsSync(path)) {
    console.error(`bench:dicomweb needs ${what}: ${path} is missing`);
    process.exit(2);
  }
}

// ---------------------------------------------------------------- corpus (deterministic, generated on the fly)
let uidCounter = 0;
const uidRoot = `2.25.${BigInt(`0x${randomBytes(8).toString('hex')}`)}`;
const uid = () => `${uidRoot}.${(uidCounter += 1)}`;
const element = (group, elem, vr, value) => encodeElement(((group << 16) | elem) >>> 0, vr, value);
const text = element;
const us = (g, e, v) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v, 0);
  return element(g, e, 'US', b);
};
const pixels = randomBytes(rows * columns * 2);
function instanceBytes(spec) {
  const sopClass = spec.modality === 'MR' ? '1.2.840.10008.5.1.4.1.1.4' : '1.2.840.10008.5.1.4.1.1.2';
  const meta = Buffer.concat([
    element(0x0002, 0x0001, 'OB', Buffer.from([0, 1])),
    text(0x0002, 0x0002, 'UI', sopClass),
    text(0x0002, 0x0003, 'UI', spec.sop),
    text(0x0002, 0x0010, 'UI', '1.2.840.10008.1.2.1'),
    text(0x0002, 0x0012, 'UI', '1.2.826.0.1.3680043.10.1'),
  ]);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(meta.length, 0);
  const dataset = Buffer.concat([
    text(0x0008, 0x0005, 'CS', 'ISO_IR 100'),
    text(0x0008, 0x0008, 'CS', 'ORIGINAL\\PRIMARY\\AXIAL'),
    text(0x0008, 0x0016, 'UI', sopClass),
    text(0x0008, 0x0018, 'UI', spec.sop),
    text(0x0008, 0x0020, 'DA', spec.date),
    text(0x0008, 0x0030, 'TM', '101500'),
    text(0x0008, 0x0050, 'SH', `ACC${spec.studyIndex}`),
    text(0x0008, 0x0060, 'CS', spec.modality),
    text(0x0008, 0x0070, 'LO', 'PARADIM BENCH'),
    text(0x0008, 0x1030, 'LO', 'Benchmark study'),
    text(0x0008, 0x103e, 'LO', `Series ${spec.seriesNumber}`),
    text(0x0010, 0x0010, 'PN', `PATIENT^${spec.patient}`),
    text(0x0010, 0x0020, 'LO', spec.patient),
    text(0x0010, 0x0030, 'DA', '19700101'),
    text(0x0010, 0x0040, 'CS', 'O'),
    text(0x0018, 0x0050, 'DS', '1.25'),
    text(0x0020, 0x000d, 'UI', spec.study),
    text(0x0020, 0x000e, 'UI', spec.series),
    text(0x0020, 0x0010, 'SH', String(spec.studyIndex)),
    text(0x0020, 0x0011, 'IS', String(spec.seriesNumber)),
    text(0x0020, 0x0013, 'IS', String(spec.instanceNumber)),
    text(0x0020, 0x0032, 'DS', `-100\\-100\\${spec.instanceNumber * 1.25}`),
    text(0x0020, 0x0037, 'DS', '1\\0\\0\\0\\1\\0'),
    text(0x0020, 0x0052, 'UI', spec.frameOfReference),
    us(0x0028, 0x0002, 1),
    text(0x0028, 0x0004, 'CS', 'MONOCHROME2'),
    us(0x0028, 0x0010, rows),
    us(0x0028, 0x0011, columns),
    text(0x0028, 0x0030, 'DS', '0.7\\0.7'),
    us(0x0028, 0x0100, 16),
    us(0x0028, 0x0101, 16),
    us(0x0028, 0x0102, 15),
    us(0x0028, 0x0103, 0),
    text(0x0028, 0x1050, 'DS', '40'),
    text(0x0028, 0x1051, 'DS', '400'),
    element(0x7fe0, 0x0010, 'OW', pixels),
  ]);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), element(0x0002, 0x0000, 'UL', length), meta, dataset]);
}

const studies = [];
const modalities = ['CT', 'MR', 'PT', 'CR'];
for (let s = 0; studies.length * seriesPerStudy * perSeries < totalInstances; s += 1) {
  const year = 2015 + (s % 10);
  const study = { uid: uid(), patient: `PAT${String(Math.floor(s / 2)).padStart(5, '0')}`, date: `${year}${String((s % 12) + 1).padStart(2, '0')}15`, index: s, series: [] };
  for (let k = 0; k < seriesPerStudy; k += 1) study.series.push({ uid: uid(), modality: modalities[(s + k) % modalities.length], number: k + 1, sops: [] });
  studies.push(study);
}
const specs = [];
for (const study of studies) {
  const frameOfReference = uid();
  for (const series of study.series) {
    for (let i = 0; i < perSeries; i += 1) {
      const sop = uid();
      series.sops.push(sop);
      specs.push({ sop, study: study.uid, series: series.uid, patient: study.patient, date: study.date, modality: series.modality, seriesNumber: series.number, instanceNumber: i + 1, studyIndex: study.index, frameOfReference });
    }
  }
}
const instanceSize = instanceBytes(specs[0]).length;
const corpusBytes = instanceSize * specs.length;

// ---------------------------------------------------------------- servers
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
async function waitFor(url) {
  for (let i = 0; i < 400; i += 1) {
    try {
      if ((await fetch(url)).status < 500) return;
    } catch {
      // Not yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} did not answer`);
}
function peakRssMb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return kb / 1024;
  } catch {
    return NaN;
  }
}
async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

const work = await mkdtemp(join(tmpdir(), 'paradim-bench-'));
const ourPort = await freePort();
const orthancPort = await freePort();
const orthancDicomPort = await freePort();
// Our server runs as shipped: nothing is open without a token, and every request is written to the audit trail.
const adminCli = (args) => {
  const result = spawnSync(process.execPath, [join(repoRoot, 'app/server/cli.cjs'), ...args, '--data', join(work, 'paradim')], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`paradim-server ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout.trim();
};
adminCli(['user', 'create', '--name', 'bench', '--admin']);
const ourToken = adminCli(['token', 'create', '--user', 'bench', '--permissions', 'read,write,download']);
const ourNodeArgs = (process.env.PARADIM_BENCH_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
const ours = spawn(process.execPath, [...ourNodeArgs, join(repoRoot, 'app/server/cli.cjs'), 'serve', '--host', '127.0.0.1', '--port', String(ourPort), '--data', join(work, 'paradim'), '--log-level', 'warn'], {
  stdio: ['ignore', 'ignore', 'inherit'],
});
await writeFile(
  join(work, 'orthanc.json'),
  JSON.stringify({
    Name: 'BenchOrthanc',
    StorageDirectory: join(work, 'orthanc'),
    IndexDirectory: join(work, 'orthanc'),
    Plugins: [dicomwebPlugin],
    HttpPort: orthancPort,
    DicomPort: orthancDicomPort,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    SyncStorageArea: true,
    StorageCompression: false,
    DicomWeb: { Enable: true, Root: '/dicom-web/' },
  }),
);
const orthanc = spawn(orthancBinary, [join(work, 'orthanc.json')], { stdio: 'ignore' });
const targets = {
  paradim: { name: 'PARADIM', base: `http://127.0.0.1:${ourPort}/dicomweb`, pid: ours.pid, headers: { authorization: `Bearer ${ourToken}` } },
  orthanc: { name: 'Orthanc', base: `http://127.0.0.1:${orthancPort}/dicom-web`, pid: orthanc.pid, headers: {} },
};
// STOW uploads use node:http, each body written in one piece over 4 kept-alive connections: the load generator shares
// the two cores with the server it measures, and fetch (undici) spent about 1 ms of CPU per instance sending a body,
// which capped whichever server needed less CPU itself. Both servers get this same client.
const stowAgent = new Agent({ keepAlive: true, maxSockets: 4 });
// WADO-RS series downloads likewise go through node:http and are counted, not kept: with fetch, reading 500 MB per pass
// into array buffers cost the client more CPU than either server spent answering (measured with --verbose).
const wadoAgent = new Agent({ keepAlive: true, maxSockets: 4 });
const cleanup = async () => {
  stowAgent.destroy();
  wadoAgent.destroy();
  await stop(ours);
  await stop(orthanc);
  if (!values.keep) await rm(work, { recursive: true, force: true });
};
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));

try {
  await waitFor(`http://127.0.0.1:${ourPort}/healthz`);
  await waitFor(`http://127.0.0.1:${orthancPort}/system`);
  console.log(
    `Corpus: ${specs.length} instances (${studies.length} studies × ${seriesPerStudy} series × ${perSeries}), ${rows}×${columns} 16-bit, ${(corpusBytes / 1e9).toFixed(2)} GB; ` +
      `both servers on this machine, durability on.`,
  );

  // CPU accounting from /proc (Linux): per process (user, system seconds), per thread of our server, and the machine.
  const ticks = 100;
  const procTimes = (path) => {
    const raw = readFileSync(path, 'utf8');
    const fields = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    return { name: raw.slice(raw.indexOf('(') + 1, raw.lastIndexOf(')')), user: Number(fields[11]) / ticks, system: Number(fields[12]) / ticks };
  };
  const cpuSnapshot = () => {
    const snapshot = { threads: {} };
    for (const key of order) snapshot[key] = procTimes(`/proc/${targets[key].pid}/stat`);
    if (values.verbose) {
      for (const tid of readdirSync(`/proc/${ours.pid}/task`)) {
        try {
          const thread = procTimes(`/proc/${ours.pid}/task/${tid}/stat`);
          snapshot.threads[tid === String(ours.pid) ? 'main' : `${thread.name}#${tid}`] = thread.user + thread.system;
        } catch {
          // The thread ended.
        }
      }
    }
    const machine = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
    snapshot.idle = machine[3] ?? 0;
    snapshot.iowait = machine[4] ?? 0;
    snapshot.total = machine.reduce((a, b) => a + b, 0);
    return snapshot;
  };
  const describeRound = (label, seconds, before, after) => {
    const cpu = (key) => `${targets[key].name} CPU ${(after[key].user - before[key].user).toFixed(2)} user + ${(after[key].system - before[key].system).toFixed(2)} sys s`;
    const total = after.total - before.total || 1;
    const threads = Object.entries(after.threads)
      .map(([name, time]) => [name, time - (before.threads[name] ?? 0)])
      .filter(([, time]) => time >= 0.03)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([name, time]) => `${name} ${time.toFixed(2)}`)
      .join(', ');
    return `${label}: ${seconds.toFixed(2)} s; ${order.map(cpu).join('; ')}; machine idle ${((100 * (after.idle - before.idle)) / total).toFixed(0)}%, I/O wait ${((100 * (after.iowait - before.iowait)) / total).toFixed(0)}%; our threads (s): ${threads}`;
  };

  // ---------------------------------------------------------------- STOW-RS (batch 10, concurrency 4)
  // Request bodies are built once, before timing, and sent identically to both servers.
  const toBatches = (list) => {
    const out = [];
    for (let i = 0; i < list.length; i += 10) {
      const boundary = `bench-${randomBytes(8).toString('hex')}`;
      const chunks = [];
      for (const spec of list.slice(i, i + 10)) {
        const bytes = instanceBytes(spec);
        chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\nContent-Length: ${bytes.length}\r\n\r\n`), bytes, Buffer.from('\r\n'));
      }
      chunks.push(Buffer.from(`--${boundary}--\r\n`));
      out.push({ boundary, body: Buffer.concat(chunks) });
    }
    return out;
  };
  const batches = toBatches(specs);
  // Untimed warm-up (as for the other measurements): 200 instances of a patient, date and modality that no query
  // matches, so both servers start the timed rounds warm (JIT, caches, connections) and answer the same queries.
  const warmStudy = uid();
  const warmSeries = [uid(), uid()];
  const warmUp = toBatches(
    Array.from({ length: 200 }, (_, i) => ({
      sop: uid(), study: warmStudy, series: warmSeries[i % 2], patient: 'WARMUP', date: '20000101', modality: 'OT',
      seriesNumber: (i % 2) + 1, instanceNumber: Math.floor(i / 2) + 1, studyIndex: 99999, frameOfReference: warmStudy,
    })),
  );
  // The uploads go through node:http with each body written in one piece over 4 kept-alive connections (stowAgent).
  function post(url, headers, body) {
    return new Promise((resolve, reject) => {
      const request = httpRequest(url, { method: 'POST', agent: stowAgent, headers: { ...headers, 'content-length': body.length } }, (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      });
      request.on('error', reject);
      request.end(body);
    });
  }
  /** Sends `slice` of the batches with 4 requests in flight; returns the elapsed seconds. */
  async function stow(target, slice) {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < slice.length) {
          const { boundary, body } = slice[next];
          next += 1;
          const headers = { ...target.headers, 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`, accept: 'application/dicom+json' };
          const response = await post(`${target.base}/studies`, headers, body);
          if (response.status !== 200) throw new Error(`${target.name} STOW answered ${response.status}: ${response.text.slice(0, 200)}`);
        }
      }),
    );
    return (performance.now() - started) / 1000;
  }

  // ---------------------------------------------------------------- QIDO-RS
  const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  let seed = 42;
  const random = (n) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const queries = {
    'studies by PatientID': () => `/studies?PatientID=${studies[random(studies.length)].patient}`,
    'studies by date range': () => {
      const year = 2015 + random(10);
      return `/studies?StudyDate=${year}0101-${year}0630`;
    },
    'studies by ModalitiesInStudy': () => `/studies?ModalitiesInStudy=${modalities[random(modalities.length)]}&limit=100`,
    'series of a study': () => `/studies/${studies[random(studies.length)].uid}/series`,
    'instances of a series': () => {
      const study = studies[random(studies.length)];
      return `/studies/${study.uid}/series/${study.series[random(seriesPerStudy)].uid}/instances`;
    },
  };
  /**
   * Each query goes to both servers in turn (which one first alternates), so that a pause elsewhere on the machine
   * (writeback, another process) falls on both alike; p50 and p95 per server and query type.
   */
  async function qido(keys) {
    const out = Object.fromEntries(keys.map((key) => [key, {}]));
    for (const [name, make] of Object.entries(queries)) {
      seed = 42;
      const times = Object.fromEntries(keys.map((key) => [key, []]));
      for (let i = 0; i < queryRounds; i += 1) {
        const path = make();
        for (const key of i % 2 === 0 ? keys : [...keys].reverse()) {
          const target = targets[key];
          const url = `${target.base}${path}`;
          const started = performance.now();
          const response = await fetch(url, { headers: { ...target.headers, accept: 'application/dicom+json' } });
          const body = await response.text();
          times[key].push(performance.now() - started);
          if (response.status !== 200 && response.status !== 204) throw new Error(`${target.name} ${url}: ${response.status}`);
          if (i === 0 && !name.includes('ModalitiesInStudy') && !name.includes('date') && body.length < 3 && response.status === 200) throw new Error(`${target.name} ${url}: empty answer`);
        }
      }
      for (const key of keys) {
        const sorted = times[key].sort((a, b) => a - b);
        out[key][name] = { p50: percentile(sorted, 50), p95: percentile(sorted, 95) };
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- WADO-RS series and metadata (concurrency 4)
  const sampleSeries = [];
  for (let i = 0; i < Math.min(100, studies.length * seriesPerStudy); i += 1) {
    const study = studies[(i * 7) % studies.length];
    sampleSeries.push({ study: study.uid, series: study.series[i % seriesPerStudy].uid });
  }
  async function parallel(items, run) {
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < items.length) {
          const item = items[next];
          next += 1;
          await run(item);
        }
      }),
    );
  }
  /** GET through node:http; resolves with the status and the number of body bytes (not kept). */
  function download(url, headers) {
    return new Promise((resolve, reject) => {
      const request = httpRequest(url, { agent: wadoAgent, headers }, (response) => {
        let length = 0;
        response.on('data', (chunk) => {
          length += chunk.length;
        });
        response.on('end', () => resolve({ status: response.statusCode, length }));
        response.on('error', reject);
      });
      request.on('error', reject);
      request.end();
    });
  }
  async function wado(target) {
    let bytes = 0;
    const started = performance.now();
    await parallel(sampleSeries, async ({ study, series }) => {
      const { status, length } = await download(`${target.base}/studies/${study}/series/${series}`, {
        ...target.headers,
        accept: 'multipart/related; type="application/dicom"; transfer-syntax=*',
      });
      if (status !== 200) throw new Error(`${target.name} WADO-RS series: ${status}`);
      bytes += length;
    });
    if (bytes < sampleSeries.length * perSeries * instanceSize) throw new Error(`${target.name} WADO-RS returned too few bytes: ${bytes} < ${sampleSeries.length * perSeries * instanceSize}`);
    return bytes / 1e6 / ((performance.now() - started) / 1000);
  }
  async function metadata(target) {
    let instances = 0;
    const started = performance.now();
    await parallel(sampleSeries, async ({ study, series }) => {
      const response = await fetch(`${target.base}/studies/${study}/series/${series}/metadata`, { headers: { ...target.headers, accept: 'application/dicom+json' } });
      if (response.status !== 200) throw new Error(`${target.name} metadata: ${response.status}`);
      const n = (await response.json()).length;
      instances += n;
    });
    return instances / ((performance.now() - started) / 1000);
  }

  // The two servers are measured alternately, round by round, so that load from elsewhere on the machine affects both
  // alike: STOW in four rounds of a quarter of the corpus each, then QIDO, WADO-RS and metadata passes in turn.
  const order = ['orthanc', 'paradim'];
  const results = { orthanc: { stowSeconds: 0, stowCpu: { orthanc: 0, paradim: 0 } }, paradim: { stowSeconds: 0, stowCpu: { orthanc: 0, paradim: 0 } } };
  for (const key of order) {
    process.stdout.write(`\rSTOW-RS warm-up: ${targets[key].name}…   `);
    await stow(targets[key], warmUp);
  }
  const rounds = 4;
  const perRound = Math.ceil(batches.length / rounds);
  for (let round = 0; round < rounds; round += 1) {
    const slice = batches.slice(round * perRound, (round + 1) * perRound);
    for (const key of order) {
      process.stdout.write(`\rSTOW-RS round ${round + 1}/${rounds}: ${targets[key].name}…   `);
      const before = cpuSnapshot();
      const secs = await stow(targets[key], slice);
      const after = cpuSnapshot();
      for (const name of order) results[key].stowCpu[name] += after[name].user + after[name].system - before[name].user - before[name].system;
      if (values.verbose) console.error(`\n  ${describeRound(`${targets[key].name} round ${round + 1}`, secs, before, after)}`);
      results[key].stowSeconds += secs;
    }
  }
  for (const key of order) results[key].stow = specs.length / results[key].stowSeconds;
  process.stdout.write('\rQIDO-RS…                              ');
  await qido(order); // warm-up
  const qidoTimes = await qido(order);
  for (const key of order) results[key].qido = qidoTimes[key];
  const alternate = async (name, run) => {
    for (const key of order) await run(targets[key]); // warm-up
    const rates = { orthanc: [], paradim: [] };
    for (let pass = 0; pass < 3; pass += 1) {
      for (const key of order) {
        process.stdout.write(`\r${name} pass ${pass + 1}/3: ${targets[key].name}…   `);
        const before = cpuSnapshot();
        const started = performance.now();
        rates[key].push(await run(targets[key]));
        const after = cpuSnapshot();
        if (values.verbose) console.error(`\n  ${describeRound(`${targets[key].name} ${name} pass ${pass + 1} (${rates[key].at(-1).toFixed(0)}/s)`, (performance.now() - started) / 1000, before, after)}`);
      }
    }
    // Median of three.
    for (const key of order) results[key][name] = rates[key].sort((a, b) => a - b)[1];
  };
  await alternate('wado', wado);
  await alternate('metadata', metadata);
  for (const key of order) results[key].rss = peakRssMb(targets[key].pid);
  console.log('\rdone.                                   ');

  // ---------------------------------------------------------------- report
  const p = results.paradim;
  const o = results.orthanc;
  const lines = [];
  const row = (metric, ourValue, theirValue, unit, higherIsBetter, target) => {
    const ratio = higherIsBetter ? ourValue / theirValue : theirValue / ourValue;
    const met = target === undefined ? '' : target(ourValue, theirValue) ? 'met' : 'NOT met';
    lines.push([metric, `${ourValue.toFixed(1)} ${unit}`, `${theirValue.toFixed(1)} ${unit}`, `${ratio.toFixed(2)}×`, met]);
  };
  row('STOW-RS instances/s (batch 10, conc. 4)', p.stow, o.stow, 'inst/s', true, (a, b) => a >= 2 * b);
  // Each server's own CPU (all threads, user + system) during its timed STOW rounds, per stored instance.
  row('STOW-RS server CPU per instance', (1000 * p.stowCpu.paradim) / specs.length, (1000 * o.stowCpu.orthanc) / specs.length, 'ms', false);
  for (const name of Object.keys(queries)) {
    row(`QIDO-RS ${name} p50`, p.qido[name].p50, o.qido[name].p50, 'ms', false);
    row(`QIDO-RS ${name} p95`, p.qido[name].p95, o.qido[name].p95, 'ms', false, (a, b) => a <= b);
  }
  row('WADO-RS series MB/s (conc. 4, median of 3)', p.wado, o.wado, 'MB/s', true, (a, b) => a >= b);
  row('WADO-RS metadata instances/s (conc. 4, median of 3)', p.metadata, o.metadata, 'inst/s', true, (a, b) => a >= 2 * b);
  row('Peak RSS', p.rss, o.rss, 'MB', false);
  const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...lines.map((line) => line[i].length), ['Metric', 'PARADIM', 'Orthanc', 'Ratio (>1 = ours better)', 'Target'][i].length));
  const fmt = (cells) => cells.map((cell, i) => cell.padEnd(widths[i])).join('  ');
  console.log(`\n${fmt(['Metric', 'PARADIM', 'Orthanc', 'Ratio (>1 = ours better)', 'Target'])}`);
  for (const line of lines) console.log(fmt(line));
  const missed = lines.filter((line) => line[4] === 'NOT met').length;
  console.log(missed === 0 ? '\nAll targets met.' : `\n${missed} target(s) not met.`);
} finally {
  await cleanup();
}
