// Type-checks each folder with its own environment (see tsconfig.json), two at a time.
import { spawn } from 'node:child_process';

const projects = ['shared/tsconfig.json', 'renderer/tsconfig.json', 'main/tsconfig.json', 'server/tsconfig.json', 'tsconfig.test.json'];
const tsc = new URL('../node_modules/typescript/bin/tsc', import.meta.url).pathname;

function check(project) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [tsc, '-p', project, '--pretty'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('close', (code) => resolve({ project, code, output }));
  });
}

const queue = [...projects];
const results = [];
await Promise.all(
  [0, 1].map(async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) results.push(await check(next));
  }),
);
let failed = 0;
for (const { project, code, output } of results.sort((a, b) => projects.indexOf(a.project) - projects.indexOf(b.project))) {
  console.log(`${code === 0 ? 'ok  ' : 'FAIL'} ${project}`);
  if (code !== 0) {
    failed++;
    process.stdout.write(output);
  }
}
process.exit(failed === 0 ? 0 : 1);
