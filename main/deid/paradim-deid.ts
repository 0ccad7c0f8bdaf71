// Entry of the `paradim-deid` command (bundled to app/deid/paradim-deid.cjs by scripts/build.mjs).
import { runCli } from './cli.js';

runCli();
