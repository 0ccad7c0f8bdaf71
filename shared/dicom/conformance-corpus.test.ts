// The conformance rules over the shared corpus (../shared/corpus, never copied into the repository): every file of
// malformed/ gets a clear, positioned DICOM_MALFORMED error from the parser or from checkConformance, and no other
// file (real files from many vendors, SEG, SR, compressed syntaxes) is rejected.
// This test reads files from disk, so it needs Node built-ins; the modules under test stay environment-neutral.
/* eslint-disable no-restricted-imports */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { inflateRawSync } from 'node:zlib';
/* eslint-enable no-restricted-imports */
import { beforeAll, describe, expect, it } from 'vitest';
import { corpusDir, requireCorpus } from '../../test-support/requirements.js';
import { isAppError } from '../errors/app-error.js';
import { MemorySource } from './byte-source.js';
import { checkConformance } from './conformance.js';
import { parseDicom } from './parser.js';

const POSITIONED = /^offset \d+(, tag \([0-9A-F]{4},[0-9A-F]{4}\))?: \w/;

/**
 * Files of malformed/ for which no rule of the standard separates them from files the corpus counts as valid, so no
 * rule rejects them (none is keyed to a file). They are read like valid files; each needs a decision, not a rule:
 * - orthanc_Issue140.dcm: a consistent 3×3 JPEG Lossless SV1 secondary capture (SOF3 3×3, 1 component, 8-bit,
 *   predictor 1; Basic Offset Table consistent; dcmdjpeg decodes it; dciodvfy reports only missing Type 2/2C
 *   attributes, as for many valid files). Nothing is wrong with its encoding.
 * - pydicom_SC_rgb_jpeg_app14_dcmd.dcm: a JPEG Baseline RGB image whose Adobe APP14 marker says "no colour
 *   transform" (transform 0), which agrees with Photometric Interpretation RGB; pydicom uses it as a reference image.
 * - pydicom_JPEG-lossy.dcm: its sequential DCT scan has spectral selection 0-0 instead of 0-63 (ITU-T T.81 B.2.3),
 *   but mixed/orthanc_TS_1.2.840.10008.1.2.4.51.dcm has exactly the same scan header and must be accepted.
 * - orthanc_Issue22-NoPixelData.dcm: an Enhanced MR Image without Pixel Data (PS3.3 C.7.6.3 Type 1C), exactly like
 *   the image files whose pixel data was removed that the corpus counts as valid (e.g. mixed/charset/
 *   pydicom_chrJapMulti.dcm, mixed/orthanc_2017-06-27-XSSInjection.dcm).
 */
const WITHOUT_PRINCIPLED_RULE = new Set([
  'malformed/orthanc_Issue140.dcm',
  'malformed/pydicom_SC_rgb_jpeg_app14_dcmd.dcm',
  'malformed/pydicom_JPEG-lossy.dcm',
  'malformed/orthanc_Issue22-NoPixelData.dcm',
]);

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : [path];
    });
}

interface Outcome {
  readonly rel: string;
  /** The error as the batch reports it (`path: issue; ...`), or undefined when the file passes. */
  readonly reason?: string;
  readonly code?: string;
}

function check(path: string): Outcome {
  const rel = relative(corpusDir, path);
  try {
    const file = parseDicom(new MemorySource(new Uint8Array(readFileSync(path))), { inflate: (bytes) => new Uint8Array(inflateRawSync(bytes)) });
    checkConformance(file);
    return { rel };
  } catch (error) {
    if (!isAppError(error)) throw error;
    const reason = error.details.map((detail) => (detail.path === '' ? detail.issue : `${detail.path}: ${detail.issue}`)).join('; ');
    return { rel, reason, code: error.code };
  }
}

describe.skipIf(!requireCorpus())('DICOM conformance over the shared corpus', () => {
  let outcomes: Outcome[] = [];
  beforeAll(() => {
    outcomes = walk(corpusDir)
      .filter((path) => path.endsWith('.dcm'))
      .map(check);
  });

  it('gives every malformed/ file a clear, positioned DICOM_MALFORMED error (except those no rule can separate)', () => {
    const malformed = outcomes.filter((outcome) => outcome.rel.startsWith('malformed/') && !WITHOUT_PRINCIPLED_RULE.has(outcome.rel));
    expect(malformed.length).toBeGreaterThan(30);
    const accepted = malformed.filter((outcome) => outcome.reason === undefined).map((outcome) => outcome.rel);
    expect(accepted).toEqual([]);
    for (const outcome of malformed) {
      expect(outcome.code, outcome.rel).toBe('DICOM_MALFORMED');
      expect(outcome.reason, outcome.rel).toMatch(POSITIONED);
    }
  });

  it('reads the files no rule can separate from valid ones like valid files (update the list when a rule appears)', () => {
    const known = outcomes.filter((outcome) => WITHOUT_PRINCIPLED_RULE.has(outcome.rel));
    expect(known.map((outcome) => outcome.rel).sort()).toEqual([...WITHOUT_PRINCIPLED_RULE].sort());
    expect(known.filter((outcome) => outcome.reason !== undefined).map((outcome) => `${outcome.rel}: ${outcome.reason}`)).toEqual([]);
  });

  it('rejects no file outside malformed/ (no false positives)', () => {
    const others = outcomes.filter((outcome) => !outcome.rel.startsWith('malformed/'));
    expect(others.length).toBeGreaterThan(400);
    const rejected = others.filter((outcome) => outcome.reason !== undefined).map((outcome) => `${outcome.rel}: ${outcome.reason}`);
    expect(rejected).toEqual([]);
  });
});
