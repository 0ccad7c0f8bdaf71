import { describe, expect, it } from 'vitest';
import { MemorySource } from '../dicom/byte-source.js';
import type { DicomElement } from '../dicom/model.js';
import { parseDicom } from '../dicom/parser.js';
import { buildDicom, imageAttributes, type TestItem } from '../dicom/testing/build-dicom.js';
import { decodeText } from '../dicom/values.js';
import { segmentsToBytes } from '../dicom/writer.js';
import type { DeidCrypto } from './crypto.js';
import { e11Rows } from './e1-1-table.js';
import { chooseAction, DeidEngine, e11RowFor, effectiveAction, handledActions, type DeidOutcome } from './engine.js';
import { parseDeidProfile, profileDigest, type DeidProfileInput } from './profile.js';

/** A deterministic keyed digest for tests (shared/ has no crypto); the product injects HMAC-SHA-256. */
function fakeCrypto(key: string): DeidCrypto {
  const digest = (data: Uint8Array, seed: number): Uint8Array => {
    const out = new Uint8Array(32);
    for (let block = 0; block < 8; block++) {
      let h = (0x811c9dc5 ^ seed ^ (block * 0x9e3779b1)) >>> 0;
      for (const c of key) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
      for (const byte of data) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
      out.set([h >>> 24, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff], block * 4);
    }
    return out;
  };
  return { hmac: (data) => digest(data, 1), sha256: (data) => digest(data, 2) };
}

const CT = '1.2.840.10008.5.1.4.1.1.2';
const base: TestItem = [
  [0x00080016, CT],
  [0x00080018, '1.2.826.0.1.3680043.99.1'],
  [0x00080020, '20240315'],
  [0x00080050, 'ACC998877'],
  [0x00080060, 'CT'],
  [0x00080080, 'Saint Example Hospital'],
  [0x00081115, [[[0x0020000e, '1.2.826.0.1.3680043.99.3'], [0x00081155, '1.2.826.0.1.3680043.99.1']]]],
  [0x00100010, 'Doe^Jane'],
  [0x00100020, 'MRN-4455'],
  [0x00100030, '19700101'],
  [0x00100040, 'F'],
  [0x00101010, '054Y'],
  [0x0020000d, '1.2.826.0.1.3680043.99.2'],
  [0x0020000e, '1.2.826.0.1.3680043.99.3'],
  [0x00200052, '1.2.826.0.1.3680043.99.4'],
  [0x00204000, 'Patient Doe^Jane, MRN-4455, follow-up'],
  ...imageAttributes({ rows: 16, columns: 16, bitsAllocated: 16 }),
  [0x00290010, 'ACME 1.0', 'LO'],
  [0x00291010, 'secret Doe', 'LO'],
  [0x00291011, Uint8Array.of(1, 2), 'OB'],
  [0x7fe00010, new Uint8Array(512), 'OW'],
];

function run(dataset: TestItem, profile: DeidProfileInput = {}, key = 'k1'): DeidOutcome {
  const crypto = fakeCrypto(key);
  const parsed = parseDeidProfile(profile);
  const engine = new DeidEngine({ profile: parsed, profileDigest: profileDigest(parsed, crypto), crypto, engineVersion: 'test' });
  return engine.process(parseDicom(new MemorySource(buildDicom(dataset))));
}

function output(outcome: DeidOutcome): { bytes: Uint8Array; elements: readonly DicomElement[] } {
  if (outcome.status !== 'deidentified') throw new Error(`not de-identified: ${outcome.reason}`);
  const bytes = new Uint8Array([...outcome.meta, ...segmentsToBytes(outcome.source, outcome.segments)]);
  return { bytes, elements: parseDicom(new MemorySource(bytes)).dataset };
}

function text(elements: readonly DicomElement[], tag: number): string | undefined {
  const element = elements.find((candidate) => candidate.tag === tag);
  return element?.value === undefined ? undefined : decodeText(element.value);
}

describe('PS3.15 Table E.1-1 coverage', () => {
  it('has a handler for every row and every action code of the table', () => {
    const handled = new Set(handledActions());
    expect(e11Rows.length).toBe(621);
    for (const row of e11Rows) {
      expect(handled.has(row.basic), `${row.tag} basic ${row.basic}`).toBe(true);
      for (const action of Object.values(row.options)) expect(handled.has(action), `${row.tag} option ${action}`).toBe(true);
      // Each row is reachable by a concrete tag.
      const probe =
        row.pattern === 'private' ? 0x00091010 : row.pattern === '50xxxxxx' ? 0x50023000 : Number.parseInt(row.pattern.replace('60xx', '6002'), 16);
      expect(e11RowFor(probe), row.tag).toBe(row);
      for (const action of [row.basic, ...Object.values(row.options)]) expect(['D', 'Z', 'X', 'K', 'C', 'U']).toContain(chooseAction(action).action);
    }
  });

  it('lets an option K win over the basic action, then an option C', () => {
    const studyDate = e11RowFor(0x00080020);
    if (studyDate === undefined) throw new Error('StudyDate row missing');
    const none = parseDeidProfile({}).options;
    expect(effectiveAction(studyDate, none).action).toBe('Z');
    expect(effectiveAction(studyDate, { ...none, retainLongitudinalFullDates: true }).action).toBe('K');
    expect(effectiveAction(studyDate, { ...none, retainLongitudinalModifiedDates: true }).action).toBe('C');
  });
});

describe('DeidEngine', () => {
  it('applies the Basic Profile: pseudonyms, UIDs, dates, private attributes, markers', () => {
    const { elements } = output(run(base));
    const pseudonym = text(elements, 0x00100020) ?? '';
    expect(pseudonym).toMatch(/^PAT-\d{10}$/);
    expect(text(elements, 0x00100010)).toBe(pseudonym);
    expect(text(elements, 0x00080050)).toBe('');
    expect(text(elements, 0x00080018)).toMatch(/^2\.25\.\d+$/);
    expect(text(elements, 0x0020000d)).toMatch(/^2\.25\.\d+$/);
    expect(text(elements, 0x00100030)).toBe(''); // PatientBirthDate: Z
    expect(elements.some((e) => (e.tag >>> 16) % 2 === 1)).toBe(false);
    expect(elements.find((e) => e.tag === 0x00204000)).toBeUndefined();
    expect(text(elements, 0x00120062)).toBe('YES');
    expect(text(elements, 0x00280303)).toBe('REMOVED');
    expect(text(elements, 0x00120063)).toMatch(/PS3\.15 2024b/);
    const codes = elements.find((e) => e.tag === 0x00120064)?.items?.map((item) => text(item.elements, 0x00080100));
    expect(codes).toEqual(['113100']);
    // The reference inside the sequence is remapped exactly like the instance it points to.
    const ref = elements.find((e) => e.tag === 0x00081115)?.items?.[0]?.elements;
    expect(text(ref ?? [], 0x00081155)).toBe(text(elements, 0x00080018));
    expect(text(ref ?? [], 0x0020000e)).toBe(text(elements, 0x0020000e));
  });

  it('applies the rules inside UN-encoded sequences and undefined-length items, and keeps unchanged sequences byte for byte', () => {
    const dataset: TestItem = [
      ...base.filter(([t]) => t !== 0x00081115),
      [0x00081115, [[[0x0020000e, '1.2.826.0.1.3680043.99.3'], [0x00081155, '1.2.826.0.1.3680043.99.1'], [0x00100010, 'Doe^Jane']]], 'UN'],
      [0x00082112, { undefinedLength: true, items: [[[0x00081150, '1.2.840.10008.5.1.4.1.1.2'], [0x00081155, '1.2.826.0.1.3680043.99.7']]] }],
    ].sort((a, b) => (a[0] as number) - (b[0] as number)) as TestItem;
    const { elements } = output(run(dataset));
    const un = elements.find((e) => e.tag === 0x00081115);
    expect(un?.vr).toBe('UN');
    const item = un?.items?.[0]?.elements ?? [];
    expect(text(item, 0x00081155)).toBe(text(elements, 0x00080018));
    expect(text(item, 0x00100010)).toMatch(/^PAT-/);
    const source = elements.find((e) => e.tag === 0x00082112)?.items?.[0]?.elements ?? [];
    expect(text(source, 0x00081150)).toBe('1.2.840.10008.5.1.4.1.1.2');
    expect(text(source, 0x00081155)).toMatch(/^2\.25\./);
  });

  it('keeps method codes already present and appends its own', () => {
    const dataset = [...base, [0x00120064, [[[0x00080100, '113100'], [0x00080102, 'DCM'], [0x00080104, 'Basic Application Confidentiality Profile']]]]].sort(
      (a, b) => (a[0] as number) - (b[0] as number),
    ) as TestItem;
    const { elements } = output(run(dataset, { options: { retainPatientCharacteristics: true } }));
    const codes = elements.find((e) => e.tag === 0x00120064)?.items?.map((item) => text(item.elements, 0x00080100));
    expect(codes).toEqual(['113100', '113100', '113108']);
  });

  it('is consistent for the same key and different for another key', () => {
    const a = output(run(base, {}, 'k1')).bytes;
    const b = output(run(base, {}, 'k1')).bytes;
    const c = output(run(base, {}, 'k2')).bytes;
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('shifts dates per patient under Modified Dates, and keeps them under Full Dates', () => {
    const modified = output(run(base, { options: { retainLongitudinalModifiedDates: true }, dateShift: { minDays: -10, maxDays: -10 } })).elements;
    expect(text(modified, 0x00080020)).toBe('20240305');
    expect(text(modified, 0x00280303)).toBe('MODIFIED');
    const full = output(run(base, { options: { retainLongitudinalFullDates: true } })).elements;
    expect(text(full, 0x00080020)).toBe('20240315');
    expect(text(full, 0x00280303)).toBe('UNMODIFIED');
  });

  it('retains what the options say: UIDs, patient characteristics, institution, safe private', () => {
    const { elements } = output(
      run(base, {
        options: { retainUids: true, retainPatientCharacteristics: true, retainInstitutionIdentity: true, retainSafePrivate: true },
        safePrivate: [{ creator: 'ACME 1.0', elements: ['11'] }],
      }),
    );
    expect(text(elements, 0x00080018)).toBe('1.2.826.0.1.3680043.99.1');
    expect(text(elements, 0x00100040)).toBe('F');
    expect(text(elements, 0x00080080)).toBe('Saint Example Hospital');
    expect(elements.some((e) => e.tag === 0x00291011)).toBe(true);
    expect(elements.some((e) => e.tag === 0x00290010)).toBe(true);
    expect(elements.some((e) => e.tag === 0x00291010)).toBe(false);
    const codes = elements.find((e) => e.tag === 0x00120064)?.items?.map((item) => text(item.elements, 0x00080100));
    expect(codes).toEqual(['113100', '113108', '113110', '113111', '113112']);
  });

  it('cleans descriptors by removing identifying fragments', () => {
    const { elements } = output(run(base, { options: { cleanDescriptors: true } }));
    const comment = text(elements, 0x00204000) ?? '';
    expect(comment).toContain('follow-up');
    expect(comment).not.toContain('MRN-4455');
    expect(comment).not.toContain('Jane');
  });

  it('fails the file when an identifying value survives (residual-PHI check)', () => {
    const outcome = run(base, { overrides: [{ tag: '(0020,4000)', action: 'keep' }] });
    expect(outcome.status).toBe('failed');
    if (outcome.status === 'deidentified') return;
    expect(outcome.code).toBe('DEID_RESIDUAL_PHI');
    expect(outcome.reason).toMatch(/PatientName in \(0020,4000\)/);
    expect(outcome.reason).not.toContain('Doe');
  });

  it('also catches names from nested sequences, e.g. a physician named in a kept comment', () => {
    const dataset = base
      .map(([t, v, vr]) => (t === 0x00204000 ? [t, 'Read by Dr Smithson', vr] : [t, v, vr]))
      .concat([[0x00081062, [[[0x00401101, [[[0x00080100, 'X1']]]], [0x0040a123, 'Smithson^Adam']]]]]) as TestItem;
    dataset.sort((a, b) => a[0] - b[0]);
    const outcome = run(dataset, { overrides: [{ tag: '(0020,4000)', action: 'keep' }] });
    expect(outcome.status).toBe('failed');
    expect(outcome.status !== 'deidentified' && outcome.reason).toMatch(/in \(0020,4000\)/);
  });

  it('matches identifying values as whole tokens only, in the element they occur in, wherever it is', () => {
    const withComment = (comment: string, extra: TestItem = []): DeidOutcome =>
      run(
        ([...base.map(([t, v, vr]) => (t === 0x00204000 ? [t, comment, vr] : [t, v, vr])), ...extra] as TestItem).sort((a, b) => a[0] - b[0]),
        { overrides: [{ tag: '(0020,4000)', action: 'keep' }, { tag: '(0008,103E)', action: 'keep' }] },
      );
    // Inside a longer word or number: not the value.
    expect(withComment('Janeway and MRN-44556 and XACC998877').status).toBe('deidentified');
    // At the start, at the end, beside punctuation: the value.
    const atEnd = withComment('seen: MRN-4455');
    expect(atEnd.status !== 'deidentified' && atEnd.reason).toMatch(/PatientID in \(0020,4000\)/);
    const atStart = withComment('Jane, follow-up');
    expect(atStart.status !== 'deidentified' && atStart.reason).toMatch(/PatientName in \(0020,4000\)/);
    // Two kept elements side by side: a value split across them is not a match, one whole in the second is.
    const split = withComment('MRN-', [[0x0008103e, '4455 series']]);
    expect(split.status).toBe('deidentified');
    const second = withComment('follow-up', [[0x0008103e, 'series of ACC998877']]);
    expect(second.status !== 'deidentified' && second.reason).toMatch(/AccessionNumber in \(0008,103E\)/);
  });

  it('quarantines burned-in annotation, ultrasound and overlays; drops SR by default', () => {
    const withTag = (extra: TestItem): TestItem => [...base, ...extra].sort((a, b) => a[0] - b[0]);
    const burned = run(withTag([[0x00280301, 'YES']]));
    expect(burned.status).toBe('quarantined');
    expect(burned.status === 'quarantined' && burned.reason).toMatch(/BurnedInAnnotation/);
    const us = run(base.map(([t, v, vr]) => (t === 0x00080016 ? [t, '1.2.840.10008.5.1.4.1.1.6.1', vr] : [t, v, vr])) as TestItem);
    expect(us.status).toBe('quarantined');
    const overlay = run(withTag([[0x60003000, new Uint8Array(8), 'OW']]));
    expect(overlay.status).toBe('quarantined');
    const slide = (imageType: string): TestItem =>
      ([...base.map(([t, v, vr]) => (t === 0x00080016 ? [t, '1.2.840.10008.5.1.4.1.1.77.1.6', vr] : [t, v, vr])), [0x00080008, imageType]] as TestItem).sort((a, b) => a[0] - b[0]);
    expect(run(slide('DERIVED\\PRIMARY\\VOLUME\\NONE')).status).toBe('deidentified');
    expect(run(slide('ORIGINAL\\PRIMARY\\LABEL\\NONE')).status).toBe('quarantined');
    const sr = run(base.map(([t, v, vr]) => (t === 0x00080016 ? [t, '1.2.840.10008.5.1.4.1.1.88.33', vr] : [t, v, vr])) as TestItem);
    expect(sr.status).toBe('dropped');
  });

  it('finds BurnedInAnnotation even in a data set whose elements are out of order', () => {
    const unordered = [...base.filter(([t]) => t !== 0x7fe00010), [0x7fe00010, new Uint8Array(512), 'OW'], [0x00280301, 'YES']] as TestItem;
    expect(run(unordered).status).toBe('quarantined');
  });

  it('masks pixel rectangles when the profile defines a mask and Clean Pixel Data is chosen', () => {
    const image: TestItem = [
      ...base.filter(([t]) => t !== 0x7fe00010 && t >>> 16 !== 0x0028),
      ...imageAttributes({ rows: 16, columns: 16, bitsAllocated: 8 }),
      [0x00280301, 'YES'],
      [0x7fe00010, new Uint8Array(256).fill(200), 'OB'],
    ].sort((a, b) => (a[0] as number) - (b[0] as number)) as TestItem;
    const outcome = run(image, { options: { cleanPixelData: true }, pixelMasks: [{ modality: 'CT', rectangles: [{ x: 0, y: 0, width: 16, height: 2 }] }] });
    const { elements, bytes } = output(outcome);
    const element = elements.find((e) => e.tag === 0x7fe00010);
    const pixel = element === undefined ? undefined : bytes.subarray(element.valueOffset, element.valueOffset + element.valueLength);
    expect(pixel?.length).toBe(256);
    expect(pixel?.subarray(0, 32).every((v) => v === 0)).toBe(true);
    expect(pixel?.subarray(32).every((v) => v === 200)).toBe(true);
    expect(text(elements, 0x00280301)).toBe('NO');
    expect(elements.find((e) => e.tag === 0x00120064)?.items?.map((item) => text(item.elements, 0x00080100))).toContain('113101');
  });

  it('writes clinical trial attributes from the profile and reports hashed values only', () => {
    const outcome = run(base, { clinicalTrial: { sponsorName: 'Sponsor', protocolId: 'P-1', ethicsApprovalNumber: 'ETH-7' } });
    const { elements } = output(outcome);
    expect(text(elements, 0x00120010)).toBe('Sponsor');
    expect(text(elements, 0x00120040)).toBe(text(elements, 0x00100020));
    expect(text(elements, 0x00120082)).toBe('ETH-7');
    const report = JSON.stringify(outcome.report);
    expect(report).not.toContain('Doe');
    expect(report).not.toContain('MRN-4455');
    expect(report).toMatch(/"oldValueHash":"hmac:[0-9a-f]{24}"/);
  });
});

/** A UTF-8 text value, padded to even length. */
function utf8(value: string): Uint8Array {
  const bytes = new TextEncoder().encode(value);
  return bytes.length % 2 === 0 ? bytes : Uint8Array.from([...bytes, 0x20]);
}

/** The output elements of `dataset` de-identified with Clean Descriptors. */
function cleanedDescriptors(dataset: TestItem): readonly DicomElement[] {
  return output(run(dataset, { options: { cleanDescriptors: true } })).elements;
}

/** `base` with some attributes replaced or added, in tag order. */
function withAttributes(extra: TestItem, dataset: TestItem = base): TestItem {
  const tags = new Set(extra.map(([tag]) => tag));
  return [...dataset.filter(([tag]) => !tags.has(tag)), ...extra].sort((a, b) => a[0] - b[0]);
}

describe('DeidEngine: leaks and invalid outputs found in review (2026-12-05)', () => {
  it('checks sequences copied unchanged too: an identifier in a code meaning fails the file', () => {
    const outcome = run(withAttributes([[0x00082218, [[[0x00080100, 'T-D0050'], [0x00080102, 'SRT'], [0x00080104, 'MRN-4455 region']]]]]));
    expect(outcome.status).toBe('failed');
    expect(outcome.status === 'failed' && outcome.reason).toMatch(/PatientID in \(0008,2218\)\[0\]\.\(0008,0104\)/);
  });

  it('cleans free text in any case: name components, identifier digits, written dates', () => {
    const dataset = withAttributes([
      [0x00081030, 'li NA seen 12/04/1961, mrn 998877, ref MERCY general'],
      [0x00080080, 'Mercy General'],
      [0x00100010, 'Li^Na'],
      [0x00100020, 'MRN998877'],
      [0x00100030, '19610412'],
    ]);
    expect(text(cleanedDescriptors(dataset), 0x00081030)).toBe('***** seen **********, mrn ******, ref *************');
  });

  it('cleans UTF-8 text and checks it in its character set', () => {
    const dataset = withAttributes([
      [0x00080005, 'ISO_IR 192'],
      [0x00081030, utf8('Kontrolle MÜLLER, jürgen'), 'LO'],
      [0x00100010, utf8('Müller^Jürgen'), 'PN'],
    ]);
    const description = cleanedDescriptors(dataset).find((e) => e.tag === 0x00081030)?.value;
    expect(new TextDecoder().decode(description).trim()).toBe('Kontrolle **************');
  });

  it('replaces a whole value where a multi-byte set cannot be cleaned character for character (ISO 2022 Japanese)', () => {
    const dataset = withAttributes([
      [0x00080005, '\\ISO 2022 IR 87'],
      [0x00081030, 'CT \x1b$B;3EDB@O:\x1b(B follow-up'],
      [0x00100010, 'Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B'],
    ]);
    expect(text(cleanedDescriptors(dataset), 0x00081030)).toBe('ANONYMIZED');
  });

  it('replaces UIDs the table does not list, consistently with the listed ones, and keeps definition UIDs', () => {
    const dataset = withAttributes([
      [0x00200242, '1.2.826.0.1.3680043.99.1'], // SOP Instance UID of Concatenation Source = the instance itself
      [0x00209312, '1.2.826.0.1.3680043.99.9'], // Volume Frame of Reference UID
      [0x00081115, [[[0x00081150, '1.3.12.2.1107.5.9.1'], [0x00081155, '1.2.826.0.1.3680043.99.1']]]],
    ]);
    const { elements } = output(run(dataset));
    expect(text(elements, 0x00200242)).toBe(text(elements, 0x00080018));
    expect(text(elements, 0x00209312)).toMatch(/^2\.25\./);
    const reference = elements.find((e) => e.tag === 0x00081115)?.items?.[0]?.elements ?? [];
    expect(text(reference, 0x00081150)).toBe('1.3.12.2.1107.5.9.1'); // a private SOP class: kept
    expect(text(reference, 0x00081155)).toBe(text(elements, 0x00080018));
  });

  it('shifts a date under Modified Dates even where another option keeps it', () => {
    const dataset = withAttributes([[0x00181200, '20240310']]); // Date of Last Calibration: Retain Device Identity K
    const options = { retainLongitudinalModifiedDates: true, retainDeviceIdentity: true };
    const { elements } = output(run(dataset, { options, dateShift: { minDays: -10, maxDays: -10 } }));
    expect(text(elements, 0x00181200)).toBe('20240229');
    expect(text(elements, 0x00280303)).toBe('MODIFIED');
  });

  it('copies only the codes of an earlier de-identification method code sequence', () => {
    const earlier: TestItem = [[0x00080100, '113100'], [0x00080102, 'DCM'], [0x00080104, 'Basic Application Confidentiality Profile'], [0x00100021, 'HOSPITAL-A']];
    const { elements } = output(run(withAttributes([[0x00120064, [earlier]]])));
    const items = elements.find((e) => e.tag === 0x00120064)?.items ?? [];
    expect(items[0]?.elements.map((e) => e.tag)).toEqual([0x00080100, 0x00080102, 0x00080104]);
  });

  it('removes a whole overlay plane with its data, and quarantines overlays kept in pixel bits', () => {
    const overlay = (group: number, withData: boolean): TestItem => [
      [(group << 16) | 0x0010, Uint8Array.of(16, 0), 'US'],
      [(group << 16) | 0x0011, Uint8Array.of(16, 0), 'US'],
      [(group << 16) | 0x0040, 'G'],
      [(group << 16) | 0x0050, Uint8Array.of(1, 0, 1, 0), 'SS'],
      [(group << 16) | 0x0100, Uint8Array.of(withData ? 1 : 16, 0), 'US'],
      [(group << 16) | 0x0102, Uint8Array.of(withData ? 0 : 15, 0), 'US'],
      ...(withData ? ([[(group << 16) | 0x3000, new Uint8Array(32), 'OW']] as TestItem) : []),
    ];
    const mask = { options: { cleanPixelData: true }, pixelMasks: [{ modality: 'CT', rectangles: [{ x: 0, y: 0, width: 4, height: 4 }] }] };
    const { elements } = output(run(withAttributes(overlay(0x6000, true)), mask));
    expect(elements.some((e) => e.tag >>> 16 === 0x6000)).toBe(false);
    const embedded = run(withAttributes(overlay(0x6002, false)), mask);
    expect(embedded.status).toBe('quarantined');
    expect(embedded.status === 'quarantined' && embedded.reason).toMatch(/unused bits of the pixel data/);
  });

  it('finds a name written as people write it, in any case, in text that is kept', () => {
    for (const written of ['Jane Doe', 'DOE, JANE', 'J. Doe']) {
      const outcome = run(withAttributes([[0x00281055, written]])); // Window Center & Width Explanation: kept
      expect(outcome.status, written).toBe('failed');
      expect(outcome.status === 'failed' && outcome.reason).toMatch(/PatientName in \(0028,1055\)/);
    }
  });

  it('reads kept private text in the data set character set, and folds ß without losing the rest of the value', () => {
    const privateText = withAttributes([
      [0x00080005, 'ISO_IR 192'],
      [0x00100010, utf8('Müller^Jürgen'), 'PN'],
      [0x00291010, utf8('Patient Müller Jürgen'), 'LO'],
    ]);
    expect(run(privateText, { options: { retainSafePrivate: true }, safePrivate: [{ creator: 'ACME 1.0', elements: ['10'] }] }).status).toBe('failed');
    const sharp = withAttributes([[0x00281055, 'Weiß mrn-4455']]);
    expect(run(sharp).status).toBe('failed');
  });

  it('cleans dates written in free text, and keeps them under Full Dates', () => {
    const dataset = withAttributes([[0x00204000, 'follow-up 2022-11-03 and 3 Nov 2022, see 03/11/2022']]);
    const cleaned = output(run(dataset, { options: { cleanDescriptors: true } })).elements;
    expect(text(cleaned, 0x00204000)).toBe('follow-up ********** and **********, see **********');
    const kept = output(run(dataset, { options: { cleanDescriptors: true, retainLongitudinalFullDates: true } })).elements;
    expect(text(kept, 0x00204000)).toBe('follow-up 2022-11-03 and 3 Nov 2022, see 03/11/2022');
  });

  it('does not fail a file on text the engine wrote itself (a patient named like a code meaning)', () => {
    expect(run(withAttributes([[0x00100010, 'Basic^Amra']])).status).toBe('deidentified');
  });
});
