// Reference for `npm run bench:deid`: a Node loop that reads each file and writes it unchanged (no DICOM work),
// i.e. the floor for any Node implementation on this machine.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [input, output] = process.argv.slice(2);
let files = 0;
let bytes = 0;
const started = performance.now();
const copy = (from, to) => {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (entry.isDirectory()) copy(join(from, entry.name), join(to, entry.name));
    else {
      const data = readFileSync(join(from, entry.name));
      writeFileSync(join(to, entry.name), data);
      files++;
      bytes += data.length;
    }
  }
};
copy(input, output);
process.stdout.write(`${JSON.stringify({ files, bytes, seconds: (performance.now() - started) / 1000 })}\n`);
