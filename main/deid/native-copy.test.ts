import { spawnSync } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDicom, imageAttributes } from '../../shared/dicom/testing/build-dicom.js';
import { nativeCopyRange, nativeStartWriteback } from './native-copy.js';
import { repoRoot, requirePath, tree } from './test-support.js';

// The native module and the CLI bundle come from `npm run build` (npm test builds before the unit tests).
const built =
  process.platform === 'linux' &&
  requirePath(join(repoRoot, 'app/native/copy-range.node'), 'the native copy module', 'run npm run build (needs a C compiler and Node headers)') &&
  requirePath(join(repoRoot, 'app/deid/paradim-deid.cjs'), 'the paradim-deid bundle', 'run npm run build');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'paradim-native-copy-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!built)('kernel-side range copy', () => {
  it('starts the writeback of a written file, and says false for a descriptor the kernel refuses', () => {
    const startWriteback = nativeStartWriteback();
    expect(startWriteback).toBeDefined();
    if (startWriteback === undefined) return;
    const path = join(dir, 'written');
    const fd = openSync(path, 'w');
    try {
      writeSync(fd, Buffer.alloc(1 << 20, 7));
      expect(startWriteback(fd)).toBe(true);
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(path).equals(Buffer.alloc(1 << 20, 7))).toBe(true);
    expect(startWriteback(-1)).toBe(false);
  });

  it('copies a range between positions without moving the output descriptor, and names errors', () => {
    const copyRange = nativeCopyRange();
    expect(copyRange).toBeDefined();
    if (copyRange === undefined) return;
    const source = join(dir, 'source');
    writeFileSync(source, Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251)));
    const target = join(dir, 'target');
    const input = openSync(source, 'r');
    const output = openSync(target, 'w');
    try {
      writeSync(output, Buffer.from('HEAD'));
      expect(copyRange(input, 1000, output, 4, 200_000)).toBe(200_000);
      // The descriptor's offset is still after HEAD: an unpositioned write lands there.
      writeSync(output, Buffer.from('X'));
      // Past the end of the input: fewer bytes than asked.
      expect(copyRange(input, 299_990, output, 200_004, 100)).toBe(10);
    } finally {
      closeSync(input);
      closeSync(output);
    }
    const bytes = readFileSync(target);
    const expected = Buffer.concat([Buffer.from('HEADX'), readFileSync(source).subarray(1001, 1000 + 200_000), readFileSync(source).subarray(299_990)]);
    expect(bytes.equals(expected)).toBe(true);
    const closed = openSync(source, 'r');
    closeSync(closed);
    expect(() => copyRange(closed, 0, closed, 0, 10)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it('gives byte-identical outputs with and without it (the CLI, in worker threads)', () => {
    // Pixel data larger than the 64 KiB read window, so that it is carried as a source range.
    const input = join(dir, 'in');
    for (let i = 0; i < 6; i++) {
      const folder = join(input, `series-${i % 2}`);
      mkdirSync(folder, { recursive: true });
      const pixels = new Uint8Array(256 * 256 * 2).map((_, j) => (i * 31 + j) % 256);
      const dataset = buildDicom([
        [0x00080016, '1.2.840.10008.5.1.4.1.1.2'],
        [0x00080018, `1.2.826.0.1.3680043.10.9.${i}`],
        [0x00100010, 'Doe^Jane'],
        [0x00100020, 'MRN-1'],
        [0x0020000d, '1.2.826.0.1.3680043.10.9.100'],
        [0x0020000e, `1.2.826.0.1.3680043.10.9.${200 + (i % 2)}`],
        ...imageAttributes({ rows: 256, columns: 256, bitsAllocated: 16 }),
        [0x7fe00010, pixels, 'OW'],
      ]);
      writeFileSync(join(folder, `IMG${i}`), dataset);
    }
    const key = join(dir, 'project.key');
    const run = (mode: string, from = input): { files: Map<string, string>; kernelBytes: number } => {
      const out = join(dir, `out-${mode}-${from === input ? 'here' : 'elsewhere'}`);
      const result = spawnSync(process.execPath, [join(repoRoot, 'app/deid/paradim-deid.cjs'), from, out, '--key', key, '--reports', `${out}-reports`, '--workers', '2', '--quiet'], {
        encoding: 'utf8',
        env: { ...process.env, PARADIM_NATIVE_COPY: mode, PARADIM_DEID_MAP_PASSPHRASE: '' },
      });
      expect(result.status, result.stderr).toBe(0);
      const summary = JSON.parse(readFileSync(join(`${out}-reports`, 'summary.json'), 'utf8')) as { bytesCopiedInKernel: number };
      return { files: tree(out), kernelBytes: summary.bytesCopiedInKernel };
    };
    const kernel = run('on');
    const javascript = run('off');
    expect(kernel.files.size).toBe(6);
    expect(kernel.files).toEqual(javascript.files);
    // The kernel copied each Pixel Data element (12-byte header and 128 KiB value) in the first run, nothing in the second.
    expect(kernel.kernelBytes).toBe(6 * (12 + 256 * 256 * 2));
    expect(javascript.kernelBytes).toBe(0);
    // Input on another kind of filesystem (tmpfs → here): the kernel refuses (EXDEV) and the copy falls back.
    if (existsSync('/dev/shm')) {
      const elsewhere = mkdtempSync('/dev/shm/paradim-native-copy-');
      try {
        cpSync(input, elsewhere, { recursive: true });
        // Input on another kind of filesystem: refused by the kernel, copied through memory, same bytes.
        expect(run('on', elsewhere)).toEqual({ files: javascript.files, kernelBytes: 0 });
      } finally {
        rmSync(elsewhere, { recursive: true, force: true });
      }
    }
  });
});
