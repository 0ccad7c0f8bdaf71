// Baseline for `npm run bench:deid`: a plain dcmjs read → clean → write loop (not the product, not de-identification
// we trust: it only blanks a few attributes, to measure the cost of a full parse and re-encode).
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import dcmjs from 'dcmjs';

dcmjs.log.level = 'error';
const [input, output, limitText] = process.argv.slice(2);
const limit = Number(limitText ?? Infinity);
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else files.push(path);
  }
};
walk(input);
mkdirSync(output, { recursive: true });
const started = performance.now();
let bytes = 0;
let count = 0;
for (const path of files.slice(0, limit)) {
  const buffer = readFileSync(path);
  bytes += buffer.length;
  const message = dcmjs.data.DicomMessage.readFile(buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.length));
  const dataset = dcmjs.data.DicomMetaDictionary.naturalizeDataset(message.dict);
  dataset.PatientName = 'ANONYMOUS';
  dataset.PatientID = 'ANON';
  dataset.PatientBirthDate = '';
  dataset.AccessionNumber = '';
  dataset.StudyDate = '';
  message.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(dataset);
  writeFileSync(join(output, `${count}.dcm`), Buffer.from(message.write()));
  count++;
}
const seconds = (performance.now() - started) / 1000;
process.stdout.write(JSON.stringify({ files: count, bytes, seconds, maxRssBytes: process.resourceUsage().maxRSS * 1024 }) + '\n');
