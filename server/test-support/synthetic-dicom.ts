import { randomBytes } from 'node:crypto';

/** A fresh DICOM UID under the 2.25 root (UUID-derived). */
export function newUid(): string {
  return `2.25.${BigInt(`0x${randomBytes(16).toString('hex')}`).toString()}`;
}

function element(group: number, elem: number, vr: string, value: Buffer): Buffer {
  const long = ['OB', 'OW', 'SQ', 'UN', 'UT', 'UC', 'UR', 'OD', 'OF', 'OL', 'OV'].includes(vr);
  const padded = value.length % 2 === 1 ? Buffer.concat([value, Buffer.from(vr === 'UI' || vr === 'OB' ? [0] : [0x20])]) : value;
  const head = Buffer.alloc(long ? 12 : 8);
  head.writeUInt16LE(group, 0);
  head.writeUInt16LE(elem, 2);
  head.write(vr, 4, 'latin1');
  if (long) head.writeUInt32LE(padded.length, 8);
  else head.writeUInt16LE(padded.length, 6);
  return Buffer.concat([head, padded]);
}
const text = (group: number, elem: number, vr: string, value: string): Buffer => element(group, elem, vr, Buffer.from(value, 'latin1'));
const us = (group: number, elem: number, value: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(value, 0);
  return element(group, elem, 'US', b);
};

export interface SyntheticInstance {
  study: string;
  series: string;
  sop: string;
  patientID: string;
  patientName?: string;
  patientSex?: string;
  studyDate?: string;
  modality?: string;
  seriesNumber?: number;
  instanceNumber?: number;
  rows?: number;
  columns?: number;
  /** Pixel bytes (rows × columns × 2 for the 16-bit default); random when absent. */
  pixels?: Buffer;
}

/** A small but complete Part-10 file (explicit VR little endian, 16-bit monochrome) for tests and benchmarks. */
export function syntheticInstance(spec: SyntheticInstance): Buffer {
  const rows = spec.rows ?? 16;
  const columns = spec.columns ?? 16;
  const pixels = spec.pixels ?? randomBytes(rows * columns * 2);
  const sopClass = '1.2.840.10008.5.1.4.1.1.2';
  const metaBody = Buffer.concat([
    element(0x0002, 0x0001, 'OB', Buffer.from([0, 1])),
    text(0x0002, 0x0002, 'UI', sopClass),
    text(0x0002, 0x0003, 'UI', spec.sop),
    text(0x0002, 0x0010, 'UI', '1.2.840.10008.1.2.1'),
    text(0x0002, 0x0012, 'UI', '1.2.826.0.1.3680043.10.1'),
  ]);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(metaBody.length, 0);
  const dataset = Buffer.concat([
    text(0x0008, 0x0005, 'CS', 'ISO_IR 192'),
    text(0x0008, 0x0016, 'UI', sopClass),
    text(0x0008, 0x0018, 'UI', spec.sop),
    text(0x0008, 0x0020, 'DA', spec.studyDate ?? '20240101'),
    text(0x0008, 0x0030, 'TM', '120000'),
    text(0x0008, 0x0050, 'SH', 'ACC1'),
    text(0x0008, 0x0060, 'CS', spec.modality ?? 'CT'),
    text(0x0010, 0x0010, 'PN', spec.patientName ?? 'TEST^PATIENT'),
    text(0x0010, 0x0020, 'LO', spec.patientID),
    text(0x0010, 0x0040, 'CS', spec.patientSex ?? 'O'),
    text(0x0020, 0x000d, 'UI', spec.study),
    text(0x0020, 0x000e, 'UI', spec.series),
    text(0x0020, 0x0010, 'SH', '1'),
    text(0x0020, 0x0011, 'IS', String(spec.seriesNumber ?? 1)),
    text(0x0020, 0x0013, 'IS', String(spec.instanceNumber ?? 1)),
    us(0x0028, 0x0002, 1),
    text(0x0028, 0x0004, 'CS', 'MONOCHROME2'),
    us(0x0028, 0x0010, rows),
    us(0x0028, 0x0011, columns),
    us(0x0028, 0x0100, 16),
    us(0x0028, 0x0101, 16),
    us(0x0028, 0x0102, 15),
    us(0x0028, 0x0103, 0),
    element(0x7fe0, 0x0010, 'OW', pixels),
  ]);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), element(0x0002, 0x0000, 'UL', groupLength), metaBody, dataset]);
}
