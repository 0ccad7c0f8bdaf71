// Generates a synthetic scale corpus of uncompressed CT instances (explicit VR little endian, 512×512×16 bit) with
// realistic identifying headers, private tags and sequences. Used by `npm run bench:deid`. Written by this project;
// no third-party data. Usage: node scripts/generate-scale-corpus.mjs <folder> [instances=2000]
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const LONG = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UR', 'UT', 'UN', 'SV', 'UV']);

/** One explicit-VR little-endian element; `value` is text (padded), bytes, or a list of items (each a list of elements). */
export function encodeElement(tag, vr, value) {
  let body;
  if (Array.isArray(value)) {
    const items = value.map((item) => {
      const inner = Buffer.concat(item.map(([t, v, x]) => encodeElement(t, v, x)));
      const head = Buffer.alloc(8);
      head.writeUInt16LE(0xfffe, 0);
      head.writeUInt16LE(0xe000, 2);
      head.writeUInt32LE(inner.length, 4);
      return Buffer.concat([head, inner]);
    });
    body = Buffer.concat(items);
  } else if (typeof value === 'string') {
    body = Buffer.from(value, 'latin1');
    if (body.length % 2 === 1) body = Buffer.concat([body, Buffer.from([vr === 'UI' ? 0 : 0x20])]);
  } else body = value;
  const long = LONG.has(vr);
  const head = Buffer.alloc(long ? 12 : 8);
  head.writeUInt16LE(tag >>> 16, 0);
  head.writeUInt16LE(tag & 0xffff, 2);
  head.write(vr, 4, 'latin1');
  if (long) head.writeUInt32LE(body.length, 8);
  else head.writeUInt16LE(body.length, 6);
  return Buffer.concat([head, body]);
}

const u16 = (v) => Buffer.from([v & 0xff, v >> 8]);
const uid = (...parts) => `1.2.826.0.1.3680043.10.1234.${parts.join('.')}`;

export function generateInstance(patient, series, instance, pixels) {
  const studyUid = uid(patient, 1);
  const seriesUid = uid(patient, 1, series);
  const sopUid = uid(patient, 1, series, instance);
  const date = `2024${String((patient % 12) + 1).padStart(2, '0')}15`;
  const dataset = [
    [0x00080005, 'CS', 'ISO_IR 100'],
    [0x00080008, 'CS', 'ORIGINAL\\PRIMARY\\AXIAL'],
    [0x00080012, 'DA', date],
    [0x00080016, 'UI', '1.2.840.10008.5.1.4.1.1.2'],
    [0x00080018, 'UI', sopUid],
    [0x00080020, 'DA', date],
    [0x00080021, 'DA', date],
    [0x00080022, 'DA', date],
    [0x00080023, 'DA', date],
    [0x00080030, 'TM', '101010'],
    [0x00080050, 'SH', `ACC${patient}00${series}`],
    [0x00080060, 'CS', 'CT'],
    [0x00080070, 'LO', 'SyntheticCT'],
    [0x00080080, 'LO', 'Synthetic General Hospital'],
    [0x00080090, 'PN', 'Referrer^Robert'],
    [0x00081010, 'SH', 'CTSTATION7'],
    [0x00081030, 'LO', 'CT CHEST'],
    [0x0008103e, 'LO', `Series ${series}`],
    [0x00081140, 'SQ', [[[0x00081150, 'UI', '1.2.840.10008.5.1.4.1.1.2'], [0x00081155, 'UI', uid(patient, 1, series, Math.max(1, instance - 1))]]]],
    [0x00100010, 'PN', `Patient${patient}^Synthetic`],
    [0x00100020, 'LO', `MRN${100000 + patient}`],
    [0x00100030, 'DA', '19600101'],
    [0x00100040, 'CS', patient % 2 === 0 ? 'F' : 'M'],
    [0x00101010, 'AS', '064Y'],
    [0x00180050, 'DS', '1.0'],
    [0x00181000, 'LO', 'SN-42'],
    [0x0020000d, 'UI', studyUid],
    [0x0020000e, 'UI', seriesUid],
    [0x00200010, 'SH', `S${patient}`],
    [0x00200011, 'IS', String(series)],
    [0x00200013, 'IS', String(instance)],
    [0x00200032, 'DS', `-250\\-250\\${instance}`],
    [0x00200037, 'DS', '1\\0\\0\\0\\1\\0'],
    [0x00200052, 'UI', uid(patient, 1, 9)],
    [0x00280002, 'US', u16(1)],
    [0x00280004, 'CS', 'MONOCHROME2'],
    [0x00280010, 'US', u16(512)],
    [0x00280011, 'US', u16(512)],
    [0x00280030, 'DS', '0.7\\0.7'],
    [0x00280100, 'US', u16(16)],
    [0x00280101, 'US', u16(12)],
    [0x00280102, 'US', u16(11)],
    [0x00280103, 'US', u16(0)],
    [0x00290010, 'LO', 'SYNTH PRIVATE'],
    [0x00291010, 'LO', `Patient${patient} private note`],
    [0x7fe00010, 'OW', pixels],
  ];
  const body = Buffer.concat(dataset.map(([t, v, x]) => encodeElement(t, v, x)));
  const metaBody = Buffer.concat([
    encodeElement(0x00020001, 'OB', Buffer.from([0, 1])),
    encodeElement(0x00020002, 'UI', '1.2.840.10008.5.1.4.1.1.2'),
    encodeElement(0x00020003, 'UI', sopUid),
    encodeElement(0x00020010, 'UI', '1.2.840.10008.1.2.1'),
    encodeElement(0x00020012, 'UI', '1.2.826.0.1.3680043.10.1234'),
  ]);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(metaBody.length, 0);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), encodeElement(0x00020000, 'UL', groupLength), metaBody, body]);
}

export function generateScaleCorpus(folder, instances = 2000) {
  const pixels = Buffer.alloc(512 * 512 * 2);
  for (let i = 0; i < pixels.length; i += 2) pixels.writeUInt16LE((i * 7) & 0x0fff, i);
  const perSeries = 100;
  let written = 0;
  let bytes = 0;
  for (let n = 0; n < instances; n++) {
    const patient = Math.floor(n / (2 * perSeries)) + 1;
    const series = (Math.floor(n / perSeries) % 2) + 1;
    const instance = (n % perSeries) + 1;
    const dir = join(folder, `Patient${patient} Synthetic`, `series-${series}`);
    mkdirSync(dir, { recursive: true });
    const file = generateInstance(patient, series, instance, pixels);
    writeFileSync(join(dir, `IMG${String(instance).padStart(5, '0')}`), file);
    written++;
    bytes += file.length;
  }
  return { files: written, bytes, digest: createHash('sha256').update(`${instances}`).digest('hex').slice(0, 8) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const folder = process.argv[2];
  if (folder === undefined) {
    console.error('Usage: node scripts/generate-scale-corpus.mjs <folder> [instances]');
    process.exit(2);
  }
  const result = generateScaleCorpus(folder, Number(process.argv[3] ?? 2000));
  console.log(`generated ${result.files} files, ${(result.bytes / 1e9).toFixed(2)} GB in ${folder}`);
}
