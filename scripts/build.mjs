// Builds everything into app/: the renderer with Vite (what Electron ships and the browser shell serves), and the
// Node sides (Electron main, preload, launcher, browser shell, companion server) with esbuild as single CommonJS
// files: Electron's sandboxed preload must be one CommonJS file, and bundling keeps start-up fast.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { build as viteBuild } from 'vite';

const { values } = parseArgs({ options: { only: { type: 'string' } } });
const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
const define = { 'process.env.PARADIM_VERSION': JSON.stringify(pkg.version) };
const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true, define, logLevel: 'warning' };
// Native or binary-bearing packages stay outside the bundles.
const external = ['electron', 'better-sqlite3', 'pg-native'];

const targets = {
  // The companion server (npm bin `paradim-server`).
  server: async () => {
    await build({ ...common, entryPoints: { cli: 'server/cli.ts' }, outdir: 'app/server', outExtension: { '.js': '.cjs' }, external, banner: { js: '#!/usr/bin/env node' } });
    await chmod('app/server/cli.cjs', 0o755);
  },
  main: () =>
    build({
      ...common,
      entryPoints: {
        launcher: 'main/launcher.ts',
        'electron-main': 'main/electron/electron-main.ts',
        preload: 'main/preload/preload.ts',
      },
      outdir: 'app/main',
      outExtension: { '.js': '.cjs' },
      external,
    }),
  // The de-identification CLI (npm bin `paradim-deid`) and its worker thread.
  deid: async () => {
    await build({
      ...common,
      entryPoints: { 'paradim-deid': 'main/deid/paradim-deid.ts', 'deid-worker': 'main/deid/worker.ts' },
      outdir: 'app/deid',
      outExtension: { '.js': '.cjs' },
      external,
      banner: { js: '#!/usr/bin/env node' },
    });
    await chmod('app/deid/paradim-deid.cjs', 0o755);
  },
  renderer: () => viteBuild({ configFile: 'vite.config.ts', logLevel: 'warn' }),
  // Optional native modules (Linux), built against the running Node's own headers (no download): the kernel-side copy
  // of the byte ranges de-identification carries unchanged (main/native), and the server's one-task durable blob
  // write with direct I/O (server/native). Without a compiler both fall back to JavaScript.
  native: async () => {
    if (process.platform !== 'linux') return;
    const prefix = dirname(dirname(process.execPath));
    const nodedir = process.env.npm_config_nodedir ?? (existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined);
    const gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
    const modules = [
      { directory: 'main/native', built: 'copy_range.node', name: 'copy-range.node', without: 'de-identification copies pixel data in JavaScript' },
      { directory: 'server/native', built: 'blob_io.node', name: 'blob-io.node', without: 'the server writes blobs in JavaScript' },
    ];
    for (const module of modules) {
      const args = [gyp, 'rebuild', '--directory', module.directory, '--loglevel', 'error', ...(nodedir === undefined ? [] : [`--nodedir=${nodedir}`])];
      const result = spawnSync(process.execPath, args, { encoding: 'utf8' });
      if (result.status !== 0) {
        console.warn(`note: ${module.directory} was not built (node-gyp: ${(result.stderr || result.stdout).trim().split('\n').pop()}); ${module.without}`);
        continue;
      }
      await mkdir('app/native', { recursive: true });
      await copyFile(join(module.directory, 'build', 'Release', module.built), join('app/native', module.name));
    }
  },
};

const selected = values.only === undefined ? Object.keys(targets) : values.only.split(',');
for (const name of selected) {
  if (!(name in targets)) {
    console.error(`Unknown build target "${name}"; choose from ${Object.keys(targets).join(', ')}`);
    process.exit(2);
  }
}
if (values.only === undefined) await rm('app', { recursive: true, force: true });
const started = performance.now();
await Promise.all(selected.map((name) => targets[name]()));
console.log(`built ${selected.join(', ')} into app/ in ${Math.round(performance.now() - started)} ms`);
