import { readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDeidProfile, profileDigest, type DeidProfile } from '../../shared/deid/profile.js';
import { parseProfileYaml } from '../../shared/deid/profile-yaml.js';
import { isAppError } from '../../shared/errors/app-error.js';
import { checkBatchFolders, runBatch, type BatchProgress } from './batch.js';
import { loadOrCreateKey } from './key-file.js';
import { nodeDeidCrypto } from './node-crypto.js';
import { passphraseSealer, readReidMap } from './reid-map.js';

const usage = `Usage:
  paradim-deid <input-folder> <output-folder> [options]
  paradim-deid export-map <map-file> [--passphrase-file <file>]

De-identifies every DICOM file below <input-folder> into <output-folder> (PS3.15 Annex E).

Options:
  --profile <file>          project profile (JSON, or YAML when named .yaml/.yml); default: Basic Profile, no options
  --key <file>              project key file; created (mode 0600) when missing. Same key = same pseudonyms.
                            Default: <output-folder>.deid-key beside the output folder
  --reports <folder>        reports and summary; default: <output-folder>.deid-reports beside the output
  --map <file>              encrypted re-identification map (one per project, merged across batches);
                            default: beside the key file, <key>.reid-map (keep both on the workstation)
  --passphrase-file <file>  passphrase of the map (or env PARADIM_DEID_MAP_PASSPHRASE); without one no map is written
  --workers <n>             worker threads (default: CPU count, at most 8; 0 = in the main thread)
  --durability <mode>       group (default): one filesystem flush (syncfs) per 256 files, then their renames;
                            each: fsync every file before its rename; none: no flush (a crash may lose recent files)
  --quiet                   no progress line
  --help

Exit status: 0 every file de-identified (or dropped by the profile), 1 some quarantined or failed, 2 usage error.`;

class UsageError extends Error {}

async function readPassphrase(file: string | undefined): Promise<string | undefined> {
  if (file !== undefined) {
    try {
      return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
    } catch {
      throw new UsageError(`cannot read the passphrase file ${file}`);
    }
  }
  const env = process.env.PARADIM_DEID_MAP_PASSPHRASE;
  return env === undefined || env === '' ? undefined : env;
}

async function loadProfile(file: string | undefined): Promise<DeidProfile> {
  if (file === undefined) return parseDeidProfile({});
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new UsageError(`cannot read the profile file ${file}`);
  }
  if (/\.ya?ml$/i.test(file)) return parseDeidProfile(parseProfileYaml(text));
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new UsageError(`the profile ${basename(file)} is not valid JSON (name it .yaml or .yml for YAML)`);
  }
  return parseDeidProfile(data);
}

function formatProgress(progress: BatchProgress): string {
  const seconds = progress.elapsedMs / 1000;
  const rate = seconds > 0 ? progress.filesDone / seconds : 0;
  const mbps = seconds > 0 ? progress.bytesDone / 1e6 / seconds : 0;
  const remaining = rate > 0 ? (progress.filesTotal - progress.filesDone) / rate : 0;
  return `${progress.filesDone}/${progress.filesTotal} files, ${rate.toFixed(0)} files/s, ${mbps.toFixed(1)} MB/s, ETA ${remaining.toFixed(0)} s`;
}

async function exportMap(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { 'passphrase-file': { type: 'string' } } });
  if (positionals.length !== 1) throw new UsageError('export-map needs exactly one map file');
  const passphrase = await readPassphrase(values['passphrase-file']);
  if (passphrase === undefined) throw new UsageError('give --passphrase-file or set PARADIM_DEID_MAP_PASSPHRASE');
  const map = await readReidMap(positionals[0] ?? '', passphraseSealer(passphrase));
  process.stdout.write(`${JSON.stringify(map, null, 2)}\n`);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'export-map') return exportMap(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      profile: { type: 'string' },
      key: { type: 'string' },
      reports: { type: 'string' },
      map: { type: 'string' },
      'passphrase-file': { type: 'string' },
      workers: { type: 'string' },
      durability: { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (positionals.length !== 2) throw new UsageError('expected an input folder and an output folder');
  const input = resolve(positionals[0] ?? '');
  const output = resolve(positionals[1] ?? '');
  const workers = values.workers === undefined ? Math.min(8, availableParallelism()) : Number(values.workers);
  if (!Number.isInteger(workers) || workers < 0 || workers > 64) throw new UsageError('--workers must be a whole number from 0 to 64');
  const durability = values.durability ?? 'group';
  if (durability !== 'group' && durability !== 'each' && durability !== 'none') throw new UsageError('--durability must be group, each or none');
  const profile = await loadProfile(values.profile);
  const keyPath = resolve(values.key ?? join(dirname(output), `${basename(output)}.deid-key`));
  const reportsDir = resolve(values.reports ?? join(dirname(output), `${basename(output)}.deid-reports`));
  const mapPath = resolve(values.map ?? `${keyPath}.reid-map`);
  // Before anything is created (the key file included): nothing may land in the input, and the key, map and reports
  // stay on the workstation, never in the output.
  checkBatchFolders({ input, output, reportsDir, keyPath, mapPath });
  const { key, created } = await loadOrCreateKey(keyPath);
  if (!created && process.platform !== 'win32' && ((await stat(keyPath)).mode & 0o077) !== 0) {
    process.stderr.write(`Warning: the project key ${keyPath} can be read by other users of this machine: chmod 600 it.\n`);
  }
  if (created) process.stderr.write(`Created a new project key at ${keyPath} (readable only by you). Keep it: the same key gives the same pseudonyms next time.\n`);
  else if (values.key === undefined) process.stderr.write(`Using the project key at ${keyPath}\n`);
  const passphrase = await readPassphrase(values['passphrase-file']);
  if (passphrase === undefined) process.stderr.write('No map passphrase given (--passphrase-file or PARADIM_DEID_MAP_PASSPHRASE): the re-identification map is not written.\n');
  const controller = new AbortController();
  const onSignal = (): void => {
    process.stderr.write('\nCancelling after the files in progress; run the same command again to resume.\n');
    controller.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const tty = process.stderr.isTTY;
  let lastLogged = 0;
  const summary = await runBatch({
    input,
    output,
    reportsDir,
    profile,
    key,
    workers,
    workerScript: join(__dirname, 'deid-worker.cjs'),
    durability,
    signal: controller.signal,
    ...(passphrase === undefined ? {} : { map: { path: mapPath, sealer: passphraseSealer(passphrase) } }),
    ...(values.quiet === true
      ? {}
      : {
          onProgress: (progress: BatchProgress) => {
            // A live line on a terminal; in a log, one line every 5 s and the last one.
            if (tty) process.stderr.write(`\r${formatProgress(progress)}   `);
            else if (progress.elapsedMs - lastLogged >= 5000 || progress.filesDone === progress.filesTotal) {
              lastLogged = progress.elapsedMs;
              process.stderr.write(`${formatProgress(progress)}\n`);
            }
          },
        }),
  });
  if (values.quiet !== true && tty) process.stderr.write('\n');
  const c = summary.counts;
  const seconds = summary.elapsedMs / 1000;
  const processed = c.deidentified + c.quarantined + c.dropped + c.failed;
  process.stdout.write(
    `De-identified ${c.deidentified}, quarantined ${c.quarantined}, dropped ${c.dropped}, failed ${c.failed}, skipped ${c.skipped}, resumed ${c.resumed} ` +
      `of ${summary.filesTotal} files in ${seconds.toFixed(2)} s (${seconds > 0 ? (processed / seconds).toFixed(0) : '0'} files/s, ` +
      `${seconds > 0 ? (summary.bytesIn / 1e6 / seconds).toFixed(1) : '0'} MB/s, peak RSS ${(summary.peakRssBytes / 1048576).toFixed(0)} MB).\n`,
  );
  process.stdout.write(`paradim-deid ${summary.engineVersion}; profile ${profile.name} v${profile.version} ${profileDigest(profile, nodeDeidCrypto(key))}\n`);
  for (const problem of summary.problems) process.stdout.write(`  ${problem.status.toUpperCase()} ${problem.input}: ${problem.reason} [${problem.code}]\n`);
  if (summary.problemsOmitted > 0) process.stdout.write(`  ... and ${summary.problemsOmitted} more: see files.jsonl in the reports folder\n`);
  for (const note of summary.notes) process.stdout.write(`Note: ${note}\n`);
  process.stdout.write(`Reports: ${reportsDir}\n`);
  if (passphrase !== undefined) process.stdout.write(`Re-identification map (encrypted): ${mapPath}\n`);
  if (summary.cancelled) {
    process.stdout.write(`Cancelled: ${summary.filesTotal - processed - c.skipped - c.resumed} file(s) not processed yet; run the same command again to resume.\n`);
    return 1;
  }
  return c.quarantined + c.failed > 0 ? 1 : 0;
}

export function runCli(): void {
  // Output piped into a reader that stops early (`| head`): not an error of the batch.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      if (error instanceof UsageError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
        process.stderr.write(`paradim-deid: ${error.message}\n\n${usage}\n`);
        process.exitCode = 2;
        return;
      }
      if (isAppError(error)) {
        const details = error.details.map((detail) => `  ${detail.path === '' ? '' : `${detail.path}: `}${detail.issue}`).join('\n');
        process.stderr.write(`paradim-deid: ${error.message}\n${details}\n`);
        process.exitCode = ['DEID_PROFILE_INVALID', 'INVALID_INPUT', 'DEID_KEY_INVALID', 'DEID_MAP_LOCKED'].includes(error.code) ? 2 : 1;
        return;
      }
      process.stderr.write(`paradim-deid: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
