// Entry of the `paradim-deid` command (bundled to app/deid/paradim-deid.cjs by scripts/build.mjs).
import { setFlagsFromString } from 'node:v8';
import { runCli } from './cli.js';

// A batch is one short-lived process whose worker threads each run the same few hundred functions thousands of times.
// With V8's default budget, the optimizing compiler starts on most of them within the first files, in every thread,
// and its background compiles take CPU from the workers on a small machine (measured on 2 cores: about a fifth of all
// CPU time over 2,000 files). Tiering up after 16 times as much interpreted work leaves only the hottest functions to
// optimize: about 10% less wall time on that batch, the same output. Set before the workers start (the flag is
// process-wide); PARADIM_DEID_V8_DEFAULTS=1 keeps V8's defaults.
if (process.env.PARADIM_DEID_V8_DEFAULTS !== '1') setFlagsFromString('--interrupt-budget=1081344');

runCli();
