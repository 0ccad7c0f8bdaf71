import { AppError } from '../errors/app-error.js';
import type { ByteSource } from '../dicom/byte-source.js';
import { charsetOf, decodeDicomText, DEFAULT_CHARSET, type DicomCharset } from '../dicom/charset.js';
import { checkConformance } from '../dicom/conformance.js';
import { keywordOf, lookupTag } from '../dicom/dictionary.js';
import type { DicomElement, DicomFile, DicomItem } from '../dicom/model.js';
import { formatTag, isPrivateCreator, isPrivateTag, Tag } from '../dicom/tags.js';
import { ExplicitVRLittleEndian, type Encoding } from '../dicom/transfer-syntax.js';
import { decodeAscii, decodeText, encodeAscii, encodeStringValue, readUint16 } from '../dicom/values.js';
import { encodeFileMeta, outTag, serializeDataset, type OutElement, type Segment } from '../dicom/writer.js';
import type { DeidCrypto } from './crypto.js';
import { e11Edition, e11Rows } from './e1-1-table.js';
import type { E11Action, E11OptionColumn, E11Row } from './e1-1-types.js';
import { basicProfileCode, deidOptionCodes, type DeidOption } from './profile-codes.js';
import type { DeidProfile } from './profile.js';
import { Pseudonymizer, shiftDate, shiftDateTime } from './pseudonyms.js';

/** A fixed UID for this implementation (2.25 form, derived once from a random UUID). */
export const IMPLEMENTATION_CLASS_UID = '2.25.139027815925961893064254405930768702553';
export const IMPLEMENTATION_VERSION_NAME = 'PARADIM_DEID_1';

const OPTION_COLUMNS: readonly E11OptionColumn[] = [
  'retainSafePrivate', 'retainUids', 'retainDeviceIdentity', 'retainInstitutionIdentity', 'retainPatientCharacteristics',
  'retainLongitudinalFullDates', 'retainLongitudinalModifiedDates', 'cleanDescriptors', 'cleanStructuredContent', 'cleanGraphics',
];
const TEXT_VRS = new Set(['AE', 'CS', 'LO', 'LT', 'PN', 'SH', 'ST', 'UC', 'UT', 'UR']);
const DATE_VRS = new Set(['DA', 'DT', 'TM']);

/** SOP classes that routinely carry burned-in identifying text (ultrasound, secondary and screen captures, video, photos). */
const HIGH_RISK_SOP_PREFIXES = [
  '1.2.840.10008.5.1.4.1.1.6.', // ultrasound (multi-frame and single)
  '1.2.840.10008.5.1.4.1.1.3.1', // ultrasound multi-frame
  '1.2.840.10008.5.1.4.1.1.7', // secondary capture (all variants, including screen captures)
  '1.2.840.10008.5.1.4.1.1.77.1.', // visible light (endoscopy, photographs, video)
];
const WHOLE_SLIDE_MICROSCOPY = '1.2.840.10008.5.1.4.1.1.77.1.6';
const HIGH_RISK_SOP_EXACT = new Set(['1.2.840.10008.5.1.4.1.1.6', '1.2.840.10008.5.1.4.1.1.3']);
/** Structured and document objects: dropped unless Clean Structured Content is chosen. */
const STRUCTURED_SOP_PREFIXES: readonly [string, string][] = [
  ['1.2.840.10008.5.1.4.1.1.88.', 'structured report or key object selection'],
  ['1.2.840.10008.5.1.4.1.1.11.', 'presentation state'],
  ['1.2.840.10008.5.1.4.1.1.104.', 'encapsulated document'],
];

export type FileStatus = 'deidentified' | 'quarantined' | 'dropped' | 'failed';

export interface ActionRecord {
  /** Tag path, e.g. `(0008,1115)[0].(0008,1155)`. */
  readonly path: string;
  readonly keyword: string;
  /** The action applied: X, Z, D, K, C, U (after the choice for combined codes). */
  readonly action: string;
  /** Why: the table column or the rule that decided. */
  readonly rule: string;
  /** Keyed hash of the old value (never the value). */
  readonly oldValueHash?: string;
}

export interface FileReport {
  readonly engine: string;
  readonly standard: string;
  readonly profile: { readonly name: string; readonly version: string; readonly digest: string };
  readonly status: FileStatus;
  readonly reason?: string;
  readonly sopClassUID: string;
  readonly modality: string;
  readonly transferSyntax: { readonly input: string; readonly output?: string };
  readonly methodCodes: readonly string[];
  readonly actions: readonly ActionRecord[];
  readonly residualPhiCheck?: { readonly passed: boolean; readonly valuesChecked: number; readonly survivors: readonly string[] };
}

export interface DeidIdentity {
  readonly pseudonym: string;
  readonly patientId: string;
  readonly patientName: string;
  readonly studyInstanceUID: string;
  readonly newStudyInstanceUID: string;
}

export type DeidOutcome =
  | {
      readonly status: 'deidentified';
      readonly report: FileReport;
      /** New preamble and file meta. */
      readonly meta: Uint8Array;
      /** The data set: header bytes and ranges of `source` copied as they are. */
      readonly segments: readonly Segment[];
      readonly source: ByteSource;
      readonly ids: { readonly study: string; readonly series: string; readonly sop: string };
      readonly identity: DeidIdentity;
    }
  | { readonly status: 'quarantined' | 'dropped' | 'failed'; readonly report: FileReport; readonly reason: string; readonly code: 'DEID_QUARANTINED' | 'DEID_RESIDUAL_PHI' | 'DEID_DROPPED' };

export interface DeidEngineOptions {
  readonly profile: DeidProfile;
  readonly profileDigest: string;
  readonly crypto: DeidCrypto;
  readonly engineVersion: string;
}

interface RuleTables {
  readonly exact: Map<number, E11Row>;
  readonly overlay: Map<number, E11Row>;
  readonly curve: E11Row | undefined;
  readonly privateRow: E11Row | undefined;
}

function compileRules(): RuleTables {
  const exact = new Map<number, E11Row>();
  const overlay = new Map<number, E11Row>();
  let curve: E11Row | undefined;
  let privateRow: E11Row | undefined;
  for (const row of e11Rows) {
    if (row.pattern === 'private') privateRow = row;
    else if (row.pattern === '50xxxxxx') curve = row;
    else if (row.pattern.startsWith('60xx')) overlay.set(Number.parseInt(row.pattern.slice(4), 16), row);
    else exact.set(Number.parseInt(row.pattern, 16), row);
  }
  return { exact, overlay, curve, privateRow };
}

let compiled: RuleTables | undefined;
/** The rule of Table E.1-1 for a tag, or undefined when the table does not list it. */
export function e11RowFor(tag: number): E11Row | undefined {
  compiled ??= compileRules();
  if (isPrivateTag(tag)) return compiled.privateRow;
  const group = tag >>> 16;
  if ((group & 0xff00) === 0x6000 && group % 2 === 0) return compiled.overlay.get(tag & 0xffff);
  if ((group & 0xff00) === 0x5000 && group % 2 === 0) return compiled.curve;
  return compiled.exact.get(tag);
}

/** X/Z sequences that are Type 2 where they occur: emptied rather than removed. */
const TYPE2_SEQUENCES = new Set([0x00400555 /* AcquisitionContextSequence */]);
/** X attributes that are Type 2C (animal subjects): emptied rather than removed, which discloses nothing either. */
const EMPTY_RATHER_THAN_REMOVE = new Set([0x00102297 /* ResponsiblePerson */, 0x00102299 /* ResponsibleOrganization */]);

/** Every row of the table has a handler: the action resolver covers each code (tested). */
export function handledActions(): readonly E11Action[] {
  return ['D', 'Z', 'X', 'K', 'C', 'U', 'X/Z', 'X/D', 'Z/D', 'X/Z/D', 'X/Z/U*'];
}

/**
 * The action of a row under the chosen options: an option's K wins, then an option's C, else the Basic Profile. One
 * exception: with Modified Dates, a date the option shifts (C) is shifted even where another option keeps it (e.g.
 * Date of Last Calibration under Retain Device Identity): one unshifted date would reveal the patient's offset and
 * contradict Longitudinal Temporal Information Modified = MODIFIED.
 */
export function effectiveAction(row: E11Row, options: Readonly<Record<DeidOption, boolean>>): { action: E11Action; rule: string } {
  if (options.retainLongitudinalModifiedDates && row.options.retainLongitudinalModifiedDates === 'C') {
    return { action: 'C', rule: 'retainLongitudinalModifiedDates C (shifted even where another option keeps it)' };
  }
  let clean: E11OptionColumn | undefined;
  for (const column of OPTION_COLUMNS) {
    if (!options[column]) continue;
    const action = row.options[column];
    if (action === 'K') return { action, rule: `${column} K` };
    if (action !== undefined && clean === undefined) clean = column;
  }
  if (clean !== undefined) return { action: row.options[clean] ?? 'C', rule: `${clean} ${row.options[clean] ?? 'C'}` };
  return { action: row.basic, rule: `basic ${row.basic}` };
}

/**
 * Where the standard leaves a choice, keep the object valid for its IOD without knowing the attribute's type there:
 * a dummy (D) is valid for Type 1, 2 and 3; Z is valid for Type 2 and 3; U keeps references resolvable.
 */
export function chooseAction(action: E11Action, isSequence = false, tag = 0): { action: 'D' | 'Z' | 'X' | 'K' | 'C' | 'U'; why: string } {
  switch (action) {
    case 'X/Z':
      if (isSequence && !TYPE2_SEQUENCES.has(tag)) return { action: 'X', why: 'X/Z on a sequence: X (an empty Type 3 sequence is invalid)' };
      return { action: 'Z', why: 'X/Z: Z (zero length) keeps Type 2 attributes valid' };
    case 'X/D':
    case 'Z/D':
    case 'X/Z/D':
      return { action: 'D', why: `${action}: D (dummy value) keeps Type 1 attributes valid` };
    case 'X/Z/U*':
      return { action: 'U', why: 'X/Z/U*: U keeps the referenced UIDs consistent and the sequence valid' };
    default:
      return { action, why: '' };
  }
}

function dummyValue(vr: string, length: number): Uint8Array {
  switch (vr) {
    case 'DA':
      return encodeStringValue(vr, '19000101');
    case 'TM':
      return encodeStringValue(vr, '000000');
    case 'DT':
      return encodeStringValue(vr, '19000101000000');
    case 'PN':
      return encodeStringValue(vr, 'ANONYMOUS');
    case 'AE':
      return encodeStringValue(vr, 'ANONYMOUS');
    case 'AS':
      return encodeStringValue(vr, '000Y');
    case 'DS':
    case 'IS':
      return encodeStringValue(vr, '0');
    case 'CS':
      return encodeStringValue(vr, 'ANONYMIZED');
    case 'UR':
      return new Uint8Array(0);
    case 'LO':
    case 'SH':
    case 'ST':
    case 'LT':
    case 'UT':
    case 'UC':
      return encodeStringValue(vr, 'ANONYMIZED');
    default:
      // Binary VRs: zeros of the same length keep the value multiplicity.
      return new Uint8Array(length);
  }
}

interface FileState {
  readonly source: ByteSource;
  readonly actions: ActionRecord[];
  /** The data set's Specific Character Set (items with their own override it for their elements). */
  readonly charset: DicomCharset;
  readonly pseudonym: string;
  readonly dateOffset: number;
  /** Identifying values of the source file (text in its character set), for Clean and the residual check. */
  readonly identifying: readonly IdentifyingValue[];
  readonly constants: Set<string>;
  /** Source UIDs this file replaced (U): none may remain anywhere in the output (residual check). */
  readonly replacedUids: Set<string>;
  /** The identifying values as one case-insensitive pattern, built when a first free text is cleaned. */
  cleanPattern?: RegExp | null;
  /** Retain Longitudinal Temporal Information with Full Dates: dates in free text are kept. */
  readonly keepDates: boolean;
  /** Attributes an option keeps (K): what they hold is kept on purpose, unless it is the patient's own identity. */
  readonly optionKept: Set<number>;
}

interface Walked {
  readonly out: OutElement[];
  readonly changed: boolean;
}

export class DeidEngine {
  private readonly pseudonyms: Pseudonymizer;
  private readonly options: Readonly<Record<DeidOption, boolean>>;
  private readonly overrides: Map<number, DeidProfile['overrides'][number]>;
  private readonly engineName: string;
  /** Table decisions by tag (and whether the element is a sequence): they depend only on the options. */
  private readonly decisions = new Map<number, { action: 'D' | 'Z' | 'X' | 'K' | 'C' | 'U'; rule: string }>();

  constructor(private readonly config: DeidEngineOptions) {
    this.options = config.profile.options;
    this.pseudonyms = new Pseudonymizer(config.crypto, config.profile.pseudonymFormat, config.profile.dateShift);
    this.overrides = new Map(config.profile.overrides.map((entry) => [Number.parseInt(entry.tag.replace(/[^0-9A-Fa-f]/g, ''), 16), entry]));
    this.engineName = `PARADIM deid ${config.engineVersion}`;
  }

  get pseudonymizer(): Pseudonymizer {
    return this.pseudonyms;
  }

  /** Engine, standard edition and profile identity, for reports of files the engine could not even read. */
  describe(): Pick<FileReport, 'engine' | 'standard' | 'profile'> {
    return {
      engine: this.engineName,
      standard: `DICOM PS3.15 ${e11Edition} Table E.1-1`,
      profile: { name: this.config.profile.name, version: this.config.profile.version, digest: this.config.profileDigest },
    };
  }

  private baseReport(file: DicomFile, status: FileStatus, extra: Partial<FileReport>): FileReport {
    const top = (tag: number): string => textOf(find(file.dataset, tag), false);
    return {
      engine: this.engineName,
      standard: `DICOM PS3.15 ${e11Edition} Table E.1-1`,
      profile: { name: this.config.profile.name, version: this.config.profile.version, digest: this.config.profileDigest },
      status,
      sopClassUID: top(Tag.SOPClassUID) || textOf(find(file.meta, Tag.MediaStorageSOPClassUID), false),
      modality: top(Tag.Modality),
      transferSyntax: { input: file.transferSyntax.uid },
      methodCodes: [],
      actions: [],
      ...extra,
    };
  }

  /** De-identifies one parsed file. Pure: the result says what to write; the runner writes it. */
  process(file: DicomFile): DeidOutcome {
    // A file that breaks the standard's structure gets a positioned error (DICOM_MALFORMED), never a silent output.
    checkConformance(file);
    const dataset = file.dataset;
    const sopClass = textOf(find(dataset, Tag.SOPClassUID), false) || textOf(find(file.meta, Tag.MediaStorageSOPClassUID), false);
    const modality = textOf(find(dataset, Tag.Modality), false).toUpperCase();
    const policy = this.config.profile.sopClasses;
    const stop = (status: 'quarantined' | 'dropped', reason: string): DeidOutcome => ({
      status,
      reason,
      code: status === 'dropped' ? 'DEID_DROPPED' : 'DEID_QUARANTINED',
      report: this.baseReport(file, status, { reason }),
    });
    if (sopClass === '') return stop('quarantined', 'the file has no SOP Class UID, so its content cannot be judged');
    if (sopClass === '1.2.840.10008.1.3.10') {
      return stop('dropped', 'DICOMDIR media index: not copied (it lists identifying values); the files it points to are de-identified one by one');
    }
    if (policy.drop.includes(sopClass)) return stop('dropped', `the profile drops SOP class ${sopClass}`);
    if (policy.quarantine.includes(sopClass)) return stop('quarantined', `the profile quarantines SOP class ${sopClass}`);
    if (policy.accept.length > 0 && !policy.accept.includes(sopClass)) return stop('quarantined', `SOP class ${sopClass} is not accepted by the profile`);
    const structured = STRUCTURED_SOP_PREFIXES.find(([prefix]) => sopClass.startsWith(prefix));
    if (structured !== undefined && !this.options.cleanStructuredContent) {
      return stop('dropped', `${structured[1]} (${sopClass}): dropped by default; choose Clean Structured Content to keep it`);
    }
    const pixelData = find(dataset, Tag.PixelData) ?? find(dataset, Tag.FloatPixelData) ?? find(dataset, Tag.DoubleFloatPixelData);
    const burnedIn = textOf(find(dataset, Tag.BurnedInAnnotation), false).toUpperCase();
    const risks: string[] = [];
    if (pixelData !== undefined) {
      if (burnedIn === 'YES') risks.push('BurnedInAnnotation is YES');
      if (sopClass === WHOLE_SLIDE_MICROSCOPY) {
        // Slide label and overview images show the paper label (names, barcodes); tiled tissue images do not.
        const imageType = textOf(find(dataset, 0x00080008), false).toUpperCase().split('\\');
        if (imageType.includes('LABEL') || imageType.includes('OVERVIEW')) risks.push('a whole-slide LABEL or OVERVIEW image shows the slide label');
      } else if (HIGH_RISK_SOP_EXACT.has(sopClass) || HIGH_RISK_SOP_PREFIXES.some((prefix) => sopClass.startsWith(prefix))) {
        risks.push(`SOP class ${sopClass} often carries burned-in text`);
      }
      else if (modality === 'US' || modality === 'XC' || modality === 'ES') risks.push(`modality ${modality} often carries burned-in text`);
    }
    // Overlay planes (even groups 60xx): their data are graphics that may show text; a plane with Overlay Rows and no
    // Overlay Data keeps its bits in unused high bits of the pixel data (retired encoding), which masks do not clean.
    const overlayPlanes = new Set<number>();
    const overlayData = new Set<number>();
    for (const element of dataset) {
      const overlayGroup = element.tag >>> 16;
      if ((overlayGroup & 0xff01) !== 0x6000) continue;
      if ((element.tag & 0xffff) === 0x3000) overlayData.add(overlayGroup);
      else if ((element.tag & 0xffff) === 0x0010) overlayPlanes.add(overlayGroup);
    }
    if ([...overlayPlanes].some((overlayGroup) => !overlayData.has(overlayGroup))) {
      return stop('quarantined', 'an overlay is stored in unused bits of the pixel data (retired encoding), which this engine cannot clean');
    }
    if (overlayData.size > 0) risks.push('the file has overlay data');
    // Clean Pixel Data: a mask defined for the device applies to all its images, risky or not.
    const mask = pixelData !== undefined ? this.matchingMask(dataset) : undefined;
    if (risks.length > 0) {
      if (mask === undefined) return stop('quarantined', `${risks.join('; ')}; the profile defines no pixel mask for this device`);
      if (!this.options.cleanPixelData) return stop('quarantined', `${risks.join('; ')}; a pixel mask matches but the Clean Pixel Data option is not chosen`);
    }
    if (this.options.cleanRecognizableVisualFeatures && pixelData !== undefined) {
      return stop('quarantined', 'Clean Recognizable Visual Features is chosen, and this engine does not deface images');
    }
    let maskedPixels: Uint8Array | undefined;
    if (mask !== undefined && this.options.cleanPixelData) {
      const masked = applyMask(file, mask);
      if (typeof masked === 'string') return stop('quarantined', `${[...risks, 'Clean Pixel Data with a mask'].join('; ')}; ${masked}`);
      maskedPixels = masked;
    }

    const charset = charsetFrom(dataset, DEFAULT_CHARSET);
    const { patientId, patientName, identityKey } = patientOf(dataset);
    const pseudonym = this.pseudonyms.patient(identityKey);
    const state: FileState = {
      source: file.datasetSource,
      actions: [],
      charset,
      pseudonym,
      dateOffset: this.options.retainLongitudinalModifiedDates ? this.pseudonyms.dateOffsetDays(identityKey) : 0,
      identifying: collectIdentifying(file, this.options, charset),
      constants: new Set(['ANONYMOUS', 'ANONYMIZED', pseudonym, 'YES', 'NO']),
      replacedUids: new Set(),
      optionKept: new Set(),
      keepDates: this.options.retainLongitudinalFullDates,
    };
    const walked = this.walkDataset(dataset, state, '', file.transferSyntax, false, charset);
    let out = walked.out.filter((element) => outTag(element) !== Tag.PixelData || maskedPixels === undefined);
    // Overlay Data is removed (X, or C that cannot clean bitmaps): the rest of its overlay plane goes too, or the Overlay
    // Plane module would lack its Type 1 Overlay Data.
    const strippedPlanes = [...overlayData].filter((overlayGroup) => !out.some((element) => outTag(element) === ((overlayGroup << 16) | 0x3000) >>> 0));
    if (strippedPlanes.length > 0) {
      out = out.filter((element) => {
        if (!strippedPlanes.includes(outTag(element) >>> 16)) return true;
        const source = find(dataset, outTag(element));
        if (source !== undefined) this.record(state, '', source, 'X', 'overlay plane removed with its Overlay Data');
        return false;
      });
    }
    if (maskedPixels !== undefined && pixelData !== undefined) {
      out.push({ kind: 'value', tag: pixelData.tag, vr: pixelData.vr, value: maskedPixels });
      state.actions.push({ path: formatTag(pixelData.tag), keyword: 'PixelData', action: 'C', rule: 'cleanPixelData: profile mask rectangles blanked' });
    }
    const methodCodes = this.methodCodes(pixelData !== undefined, maskedPixels !== undefined);
    out = this.addMarkers(out, file, state, methodCodes, maskedPixels !== undefined);
    out.sort((a, b) => outTag(a) - outTag(b));

    const newSop = findOutText(out, Tag.SOPInstanceUID);
    const newStudy = findOutText(out, Tag.StudyInstanceUID);
    const newSeries = findOutText(out, Tag.SeriesInstanceUID);
    const outputTs = file.transferSyntax.deflated ? ExplicitVRLittleEndian : file.transferSyntax.uid;
    const meta = encodeFileMeta({
      mediaStorageSOPClassUID: sopClass,
      mediaStorageSOPInstanceUID: newSop !== '' ? newSop : this.pseudonyms.uid(textOf(find(file.meta, Tag.MediaStorageSOPInstanceUID), false)),
      transferSyntaxUID: outputTs,
      implementationClassUID: IMPLEMENTATION_CLASS_UID,
      implementationVersionName: IMPLEMENTATION_VERSION_NAME,
    });
    const segments = serializeDataset(file.datasetSource, out, file.transferSyntax);
    const check = residualCheck(meta, state, out, charset);
    const report: FileReport = {
      ...this.baseReport(file, check.passed ? 'deidentified' : 'failed', {}),
      transferSyntax: { input: file.transferSyntax.uid, output: outputTs },
      methodCodes: methodCodes.map(([code]) => code),
      actions: state.actions,
      residualPhiCheck: check,
      ...(check.passed ? {} : { reason: `identifying values survived: ${check.survivors.join(', ')}` }),
    };
    if (!check.passed) return { status: 'failed', code: 'DEID_RESIDUAL_PHI', reason: report.reason ?? '', report };
    return {
      status: 'deidentified',
      report,
      meta,
      segments,
      source: file.datasetSource,
      ids: { study: newStudy, series: newSeries, sop: newSop },
      identity: {
        pseudonym,
        patientId,
        patientName,
        studyInstanceUID: textOf(find(dataset, Tag.StudyInstanceUID), false),
        newStudyInstanceUID: newStudy,
      },
    };
  }

  /**
   * The identity under which process() files this file in the re-identification map, without de-identifying it (for
   * files a resumed batch does not process again).
   */
  identityOf(file: DicomFile): DeidIdentity {
    const { patientId, patientName, identityKey } = patientOf(file.dataset);
    const study = textOf(find(file.dataset, Tag.StudyInstanceUID), false);
    const keep = study === '' || this.options.retainUids || isWellKnownUid(study) || this.overrides.get(Tag.StudyInstanceUID)?.action === 'keep';
    return { pseudonym: this.pseudonyms.patient(identityKey), patientId, patientName, studyInstanceUID: study, newStudyInstanceUID: keep ? study : this.pseudonyms.uid(study) };
  }

  private matchingMask(dataset: readonly DicomElement[]): DeidProfile['pixelMasks'][number] | undefined {
    const text = (tag: number): string => textOf(find(dataset, tag), false);
    const rows = readUint16(find(dataset, Tag.Rows)?.value, find(dataset, Tag.Rows)?.encoding.littleEndian ?? true);
    const columns = readUint16(find(dataset, Tag.Columns)?.value, find(dataset, Tag.Columns)?.encoding.littleEndian ?? true);
    return this.config.profile.pixelMasks.find(
      (mask) =>
        (mask.modality === undefined || mask.modality === text(Tag.Modality)) &&
        (mask.manufacturer === undefined || mask.manufacturer === text(0x00080070)) &&
        (mask.manufacturerModelName === undefined || mask.manufacturerModelName === text(0x00081090)) &&
        (mask.rows === undefined || mask.rows === rows) &&
        (mask.columns === undefined || mask.columns === columns),
    );
  }

  private methodCodes(hasPixels: boolean, masked: boolean): (readonly [string, string])[] {
    const codes: (readonly [string, string])[] = [basicProfileCode];
    for (const [option, code] of Object.entries(deidOptionCodes) as [DeidOption, readonly [string, string]][]) {
      if (!this.options[option]) continue;
      if (option === 'cleanPixelData' && !masked) continue;
      if (option === 'cleanRecognizableVisualFeatures' && hasPixels) continue;
      codes.push(code);
    }
    return codes;
  }

  /** Records an action on `element`, found under the path `prefix` (empty at the top level). */
  private record(state: FileState, prefix: string, element: DicomElement, action: string, rule: string): void {
    const path = prefix === '' ? formatTag(element.tag) : `${prefix}${formatTag(element.tag)}`;
    const keyword = keywordOf(element.tag);
    const value = element.value;
    // U needs no hash of the old value: the new UID is itself a keyed hash of it.
    state.actions.push(
      value !== undefined && value.length > 0 && action !== 'K' && action !== 'U'
        ? { path, keyword, action, rule, oldValueHash: this.pseudonyms.valueHash(value) }
        : { path, keyword, action, rule },
    );
  }

  private walkDataset(elements: readonly DicomElement[], state: FileState, prefix: string, encoding: Encoding, inClean: boolean, charset: DicomCharset): Walked {
    const out: OutElement[] = [];
    let changed = false;
    const keptCreators = this.keptPrivate(elements);
    for (const element of elements) {
      const result = this.walkElement(element, state, prefix, encoding, inClean, keptCreators, charset);
      if (result === undefined) {
        changed = true;
        continue;
      }
      if (result.kind !== 'raw' || result.element !== element) changed = true;
      out.push(result);
    }
    return { out, changed };
  }

  /** Private elements kept under Retain Safe Private (allowlist per creator), and their creators. */
  private keptPrivate(elements: readonly DicomElement[]): Set<number> {
    const kept = new Set<number>();
    if (!this.options.retainSafePrivate || this.config.profile.safePrivate.length === 0) return kept;
    const creators = new Map<number, string>();
    for (const element of elements) {
      if (isPrivateCreator(element.tag) && element.value !== undefined) creators.set(element.tag, decodeText(element.value).trim());
    }
    for (const element of elements) {
      if (!isPrivateTag(element.tag) || isPrivateCreator(element.tag) || (element.tag & 0xffff) < 0x1000) continue;
      const group = element.tag >>> 16;
      const creatorTag = ((group << 16) | ((element.tag & 0xff00) >>> 8)) >>> 0;
      const creator = creators.get(creatorTag);
      if (creator === undefined) continue;
      const low = (element.tag & 0xff).toString(16).toUpperCase().padStart(2, '0');
      const groupHex = group.toString(16).toUpperCase().padStart(4, '0');
      const allowed = this.config.profile.safePrivate.some(
        (entry) => entry.creator === creator && (entry.group === undefined || entry.group.toUpperCase() === groupHex) && entry.elements.some((e) => e.toUpperCase() === low),
      );
      if (allowed) {
        kept.add(element.tag);
        kept.add(creatorTag);
      }
    }
    return kept;
  }

  private walkElement(
    element: DicomElement,
    state: FileState,
    prefix: string,
    encoding: Encoding,
    inClean: boolean,
    keptPrivate: Set<number>,
    charset: DicomCharset,
  ): OutElement | undefined {
    const tag = element.tag;
    const group = tag >>> 16;
    if (group === 0x0002 || (tag & 0xffff) === 0x0000) {
      this.record(state, prefix, element, 'X', group === 0x0002 ? 'file meta in the data set: removed' : 'group length: removed (lengths change)');
      return undefined;
    }
    if (tag === 0x00120064 || tag === 0x00120062 || tag === 0x00120063 || tag === 0x00280303) {
      // Markers: rebuilt by addMarkers (existing method codes are kept there).
      return { kind: 'raw', element };
    }
    const override = this.overrides.get(tag);
    if (override !== undefined) {
      switch (override.action) {
        case 'keep':
          this.record(state, prefix, element, 'K', 'profile override: keep');
          return { kind: 'raw', element };
        case 'remove':
          this.record(state, prefix, element, 'X', 'profile override: remove');
          return undefined;
        case 'empty':
          this.record(state, prefix, element, 'Z', 'profile override: empty');
          return element.items !== undefined ? this.sequence(element, []) : { kind: 'value', tag, vr: element.vr, value: new Uint8Array(0) };
        case 'replace':
          this.record(state, prefix, element, 'D', 'profile override: replace');
          state.constants.add(override.value ?? '');
          return { kind: 'value', tag, vr: element.vr, value: encodeStringValue(element.vr, override.value ?? '') };
      }
    }
    if (isPrivateTag(tag)) {
      if (keptPrivate.has(tag)) {
        this.record(state, prefix, element, 'K', 'retainSafePrivate: allowlisted for its private creator');
        return { kind: 'raw', element };
      }
      this.record(state, prefix, element, 'X', 'private attribute: basic X');
      return undefined;
    }
    const vr = element.vr === 'UN' ? (lookupTag(tag)?.vr ?? 'UN') : element.vr;
    const row = e11RowFor(tag);
    let action: 'D' | 'Z' | 'X' | 'K' | 'C' | 'U';
    let rule: string;
    if (row !== undefined) {
      ({ action, rule } = this.tableDecision(row, tag, element.items !== undefined));
    } else if (DATE_VRS.has(vr)) {
      // PS3.15 E.1-1 note 4: every date and time, listed or not.
      action = this.options.retainLongitudinalFullDates ? 'K' : this.options.retainLongitudinalModifiedDates ? 'C' : 'D';
      rule = `unlisted ${vr} (E.1-1 note 4): ${action}`;
    } else if (inClean && TEXT_VRS.has(vr) && vr !== 'CS' && vr !== 'AE') {
      action = 'C';
      rule = 'free text inside cleaned structured content: C';
    } else if (inClean && vr === 'UI' && element.value !== undefined && !isWellKnownUid(decodeAscii(element.value)) && !definitionUid(tag)) {
      action = 'U';
      rule = 'UID inside cleaned structured content: U';
    } else if (vr === 'UI' && !this.options.retainUids && !definitionUid(tag)) {
      // Newer instance UIDs (SOP Instance UID of Concatenation Source, Volume Frame of Reference UID...) must follow the
      // listed ones, or an original UID would stay beside its replacement and link the output back to its source.
      action = 'U';
      rule = 'UID not listed in E.1-1: U like the listed instance UIDs (DICOM-defined 1.2.840.10008 UIDs kept)';
    } else {
      action = 'K';
      rule = '';
    }
    if (tag === Tag.PatientName || tag === Tag.PatientID) {
      this.record(state, prefix, element, 'D', `${rule}; replaced by the keyed patient pseudonym`);
      return { kind: 'value', tag, vr: element.vr, value: encodeStringValue(vr, state.pseudonym) };
    }
    if (element.items !== undefined) {
      if (action === 'X') {
        this.record(state, prefix, element, 'X', rule);
        return undefined;
      }
      if (action === 'Z') {
        this.record(state, prefix, element, 'Z', rule);
        return this.sequence(element, []);
      }
      // K, C, D and U on a sequence: keep the items and apply the rules inside them (C and D clean free text too).
      if (rule !== '') this.record(state, prefix, element, action, `${rule} (applied recursively to the items)`);
      const clean = inClean || action === 'C' || action === 'D';
      let changed = false;
      const items = element.items.map((item: DicomItem, index: number) => {
        const walked = this.walkDataset(item.elements, state, `${prefix}${formatTag(tag)}[${index}].`, item.encoding, clean, charsetFrom(item.elements, charset));
        if (walked.changed) changed = true;
        return walked.out;
      });
      return changed ? this.sequence(element, items) : { kind: 'raw', element };
    }
    switch (action) {
      case 'K':
        if (rule.startsWith('retain')) state.optionKept.add(tag);
        if (rule !== '') this.record(state, prefix, element, 'K', rule);
        return { kind: 'raw', element };
      case 'X':
        this.record(state, prefix, element, 'X', rule);
        return undefined;
      case 'Z':
        this.record(state, prefix, element, 'Z', rule);
        return { kind: 'value', tag, vr: element.vr, value: new Uint8Array(0) };
      case 'U': {
        this.record(state, prefix, element, 'U', rule);
        if (element.value === undefined || vr !== 'UI') return { kind: 'value', tag, vr: element.vr, value: new Uint8Array(0) };
        const uids = decodeAscii(element.value).replace(/[\0 ]+$/, '').split('\\');
        const mapped = uids.map((value) => {
          const uid = value.trim();
          // DICOM-defined UIDs (well-known frames of reference, SOP classes) identify nobody: kept.
          if (uid === '' || isWellKnownUid(uid)) return uid;
          state.replacedUids.add(uid);
          return this.pseudonyms.uid(uid);
        });
        if (mapped.every((uid, index) => uid === uids[index])) return { kind: 'raw', element };
        return { kind: 'value', tag, vr: element.vr, value: encodeStringValue('UI', mapped.join('\\')) };
      }
      case 'D': {
        this.record(state, prefix, element, 'D', rule);
        if (vr === 'UI' && element.value !== undefined) {
          return { kind: 'value', tag, vr: element.vr, value: encodeStringValue('UI', this.pseudonyms.uid(decodeText(element.value))) };
        }
        if (DATE_VRS.has(vr) && this.options.retainLongitudinalModifiedDates) return this.shifted(element, vr, state);
        return { kind: 'value', tag, vr: element.vr, value: dummyValue(vr, element.valueLength) };
      }
      case 'C': {
        if (DATE_VRS.has(vr)) {
          this.record(state, prefix, element, 'C', `${rule}; shifted by the patient's date offset`);
          return this.shifted(element, vr, state);
        }
        if (TEXT_VRS.has(vr) && element.value !== undefined) {
          const cleaned = scrub(element.value, state, charset);
          this.record(state, prefix, element, 'C', `${rule}; ${cleaned.removed} identifying fragment(s) removed`);
          if (cleaned.removed === 0) return { kind: 'raw', element };
          return { kind: 'value', tag, vr: element.vr, value: padEven(cleaned.bytes, vr) };
        }
        this.record(state, prefix, element, 'X', `${rule}; cannot be cleaned, removed`);
        return undefined;
      }
    }
  }

  /** The action of a listed attribute under this engine's options (the same for every file: computed once per tag). */
  private tableDecision(row: E11Row, tag: number, isSequence: boolean): { action: 'D' | 'Z' | 'X' | 'K' | 'C' | 'U'; rule: string } {
    const key = tag * 2 + (isSequence ? 1 : 0);
    const cached = this.decisions.get(key);
    if (cached !== undefined) return cached;
    const effective = effectiveAction(row, this.options);
    const chosen = chooseAction(effective.action, isSequence, tag);
    let action = chosen.action;
    let rule = chosen.why === '' ? effective.rule : `${effective.rule}; ${chosen.why}`;
    if (action === 'X' && EMPTY_RATHER_THAN_REMOVE.has(tag)) {
      action = 'Z';
      rule = `${rule}; Z instead: Type 2C in the Patient module for animal subjects, emptying keeps the object valid`;
    }
    const decision = { action, rule };
    this.decisions.set(key, decision);
    return decision;
  }

  private sequence(element: DicomElement, items: OutElement[][]): OutElement {
    const itemEncoding = element.items?.[0]?.encoding ?? element.encoding;
    return {
      kind: 'sequence',
      tag: element.tag,
      vr: element.vr,
      undefinedLength: element.length === 0xffffffff,
      itemEncoding: element.vr === 'UN' ? { explicitVr: false, littleEndian: true } : itemEncoding,
      items,
    };
  }

  private shifted(element: DicomElement, vr: string, state: FileState): OutElement {
    if (element.value === undefined || vr === 'TM') return { kind: 'raw', element };
    const values = decodeText(element.value).split('\\');
    const shifted = values.map((value) => {
      const trimmed = value.trim();
      if (trimmed === '') return '';
      return (vr === 'DA' ? shiftDate(trimmed, state.dateOffset) : shiftDateTime(trimmed, state.dateOffset)) ?? (vr === 'DA' ? '19000101' : '19000101000000');
    });
    return { kind: 'value', tag: element.tag, vr: element.vr, value: encodeStringValue(vr, shifted.join('\\')) };
  }

  private addMarkers(out: OutElement[], file: DicomFile, state: FileState, codes: readonly (readonly [string, string])[], masked: boolean): OutElement[] {
    const enc = file.transferSyntax;
    const markerTags = new Set([0x00120062, 0x00120063, 0x00120064, 0x00280303]);
    const trial = this.config.profile.clinicalTrial;
    const trialTags = new Set([0x00120010, 0x00120020, 0x00120021, 0x00120030, 0x00120031, 0x00120040, 0x00120081, 0x00120082]);
    const existingCodes = out.find((element) => outTag(element) === 0x00120064);
    const kept = out.filter((element) => !markerTags.has(outTag(element)) && !(trial !== undefined && trialTags.has(outTag(element))));
    const str = (tag: number, vr: string, text: string): OutElement => {
      state.constants.add(text);
      return { kind: 'value', tag, vr, value: encodeStringValue(vr, text), generated: true };
    };
    const burnedIn = textOf(find(file.dataset, Tag.BurnedInAnnotation), false).toUpperCase();
    const pixelsClean = burnedIn !== 'YES' || masked;
    if (masked) {
      const index = kept.findIndex((element) => outTag(element) === Tag.BurnedInAnnotation);
      if (index >= 0) kept.splice(index, 1);
      kept.push(str(Tag.BurnedInAnnotation, 'CS', 'NO'));
    }
    kept.push(str(0x00120062, 'CS', pixelsClean ? 'YES' : 'NO'));
    const method = `${this.engineName}; PS3.15 ${e11Edition}; ${this.config.profileDigest.slice(0, 19)}`.slice(0, 64);
    kept.push(str(0x00120063, 'LO', method));
    const previousItems: OutElement[][] = [];
    if (existingCodes !== undefined && existingCodes.kind === 'raw') {
      // Codes of an earlier de-identification stay listed; anything else in their items (private or identifying
      // attributes) is not copied.
      (existingCodes.element.items ?? []).forEach((item, index) => {
        const prefix = `${formatTag(0x00120064)}[${index}].`;
        const codes = item.elements.filter((element) => {
          if (CODE_ATTRIBUTES.has(element.tag)) return true;
          this.record(state, prefix, element, 'X', 'not a code attribute of an earlier de-identification method code: removed');
          return false;
        });
        if (codes.some((element) => element.tag === Tag.CodeValue)) previousItems.push(codes.map((element) => ({ kind: 'raw', element })));
      });
    }
    const codeItems = codes.map(([value, meaning]) => [str(Tag.CodeValue, 'SH', value), str(Tag.CodingSchemeDesignator, 'SH', 'DCM'), str(Tag.CodeMeaning, 'LO', meaning)]);
    kept.push({ kind: 'sequence', tag: 0x00120064, vr: 'SQ', undefinedLength: false, itemEncoding: enc, items: [...previousItems, ...codeItems] });
    const temporal = this.options.retainLongitudinalFullDates ? 'UNMODIFIED' : this.options.retainLongitudinalModifiedDates ? 'MODIFIED' : 'REMOVED';
    kept.push(str(0x00280303, 'CS', temporal));
    if (trial !== undefined) {
      kept.push(str(0x00120010, 'LO', trial.sponsorName));
      kept.push(str(0x00120020, 'LO', trial.protocolId));
      kept.push(str(0x00120021, 'LO', trial.protocolName ?? ''));
      kept.push(str(0x00120030, 'LO', trial.siteId ?? ''));
      kept.push(str(0x00120031, 'LO', trial.siteName ?? ''));
      kept.push(str(0x00120040, 'LO', state.pseudonym));
      if (trial.ethicsCommitteeName !== undefined) kept.push(str(0x00120081, 'LO', trial.ethicsCommitteeName));
      if (trial.ethicsApprovalNumber !== undefined) kept.push(str(0x00120082, 'LO', trial.ethicsApprovalNumber));
    }
    return kept;
  }
}

/** Code Value, Coding Scheme Designator and Version, Code Meaning, Long Code Value, URN Code Value. */
const CODE_ATTRIBUTES = new Set([0x00080100, 0x00080102, 0x00080103, 0x00080104, 0x00080119, 0x00080120]);

const WELL_KNOWN_UID_PREFIX = '1.2.840.10008.';
function isWellKnownUid(uid: string): boolean {
  return uid.startsWith(WELL_KNOWN_UID_PREFIX);
}

/** UI attributes that name definitions (SOP classes, transfer syntaxes, coding schemes, templates), not instances. */
const DEFINITION_UID_KEYWORD = /ClassUID|ClassesIn|ClassesSupported|TransferSyntaxUID|CodingSchemeUID|ContextGroupExtensionCreatorUID|^ContextUID$|MappingResourceUID|CreatorVersionUID|TemplateUID|PrivateInformationCreatorUID/;
function definitionUid(tag: number): boolean {
  return DEFINITION_UID_KEYWORD.test(keywordOf(tag));
}

/** The patient's identity as the pseudonym is keyed: issuer and ID, else name and birth date. */
function patientOf(dataset: readonly DicomElement[]): { patientId: string; patientName: string; identityKey: string } {
  const utf8 = /ISO_IR 192/.test(textOf(find(dataset, Tag.SpecificCharacterSet), false));
  const patientId = textOf(find(dataset, Tag.PatientID), utf8);
  const patientName = textOf(find(dataset, Tag.PatientName), utf8);
  const identityKey = patientId !== '' ? `id:${textOf(find(dataset, 0x00100021), utf8)}\\${patientId}` : `name:${patientName}\\${textOf(find(dataset, Tag.PatientBirthDate), false)}`;
  return { patientId, patientName, identityKey };
}

function find(elements: readonly DicomElement[], tag: number): DicomElement | undefined {
  // A full scan, not a sorted search: a file with elements out of order must not hide BurnedInAnnotation or a UID.
  for (const element of elements) if (element.tag === tag) return element;
  return undefined;
}

function textOf(element: DicomElement | undefined, utf8: boolean): string {
  if (element?.value === undefined) return '';
  return decodeText(element.value, utf8).trim();
}

function findOutText(out: readonly OutElement[], tag: number): string {
  const element = out.find((candidate) => outTag(candidate) === tag);
  if (element === undefined) return '';
  if (element.kind === 'value') return decodeText(element.value);
  if (element.kind === 'raw') return textOf(element.element, false);
  return '';
}

function padEven(bytes: Uint8Array, vr: string): Uint8Array {
  if (bytes.length % 2 === 0) return bytes;
  const padded = new Uint8Array(bytes.length + 1);
  padded.set(bytes);
  padded[bytes.length] = vr === 'UI' ? 0 : 0x20;
  return padded;
}

/** Attributes whose source values must not survive (unless an option retains them). */
const IDENTIFYING_TAGS: readonly [number, string, IdentifyingKind][] = [
  [Tag.PatientName, 'PatientName', 'name'],
  [Tag.PatientID, 'PatientID', 'id'],
  [0x00101000, 'OtherPatientIDs', 'id'],
  [0x00101001, 'OtherPatientNames', 'name'],
  [0x00101005, 'PatientBirthName', 'name'],
  [0x00101060, 'PatientMotherBirthName', 'name'],
  [Tag.PatientBirthDate, 'PatientBirthDate', 'date'],
  [0x00101040, 'PatientAddress', 'address'],
  [0x00101090, 'MedicalRecordLocator', 'id'],
  [0x00380010, 'AdmissionID', 'id'],
  [0x00401001, 'RequestedProcedureID', 'id'],
  [0x00402016, 'PlacerOrderNumberImagingServiceRequest', 'id'],
  [0x00402017, 'FillerOrderNumberImagingServiceRequest', 'id'],
  [0x00400009, 'ScheduledProcedureStepID', 'id'],
  [0x00400253, 'PerformedProcedureStepID', 'id'],
  [0x00102154, 'PatientTelephoneNumbers', 'id'],
  [0x00080050, 'AccessionNumber', 'id'],
  [0x00200010, 'StudyID', 'id'],
  [0x00080090, 'ReferringPhysicianName', 'name'],
  [0x00081050, 'PerformingPhysicianName', 'name'],
  [0x00081060, 'NameOfPhysiciansReadingStudy', 'name'],
  [0x00081070, 'OperatorsName', 'name'],
  [0x00321032, 'RequestingPhysician', 'name'],
  [0x00080020, 'StudyDate', 'date'],
  [0x00080080, 'InstitutionName', 'institution'],
  [0x00080081, 'InstitutionAddress', 'institution'],
  [0x00181000, 'DeviceSerialNumber', 'device'],
  [0x00081010, 'StationName', 'device'],
  [Tag.StudyInstanceUID, 'StudyInstanceUID', 'uid'],
  [Tag.SeriesInstanceUID, 'SeriesInstanceUID', 'uid'],
  [Tag.SOPInstanceUID, 'SOPInstanceUID', 'uid'],
  [0x00200052, 'FrameOfReferenceUID', 'uid'],
];

interface IdentifyingValue {
  readonly label: string;
  readonly kind: IdentifyingKind;
  /** The value as it reads in its character set, in upper case (matching ignores case). */
  readonly text: string;
  /** As written (name components are checked in their own case: "Test" the name, not "test" the word). */
  readonly exact: string;
  /** Two or three characters (a short name component): looked for in free text only, not in codes. */
  readonly short: boolean;
  /** A part every occurrence contains (the year of a written date): when the output lacks it, no search is needed. */
  readonly gate?: string;
}

/** The Specific Character Set of a data set or item, else the one it inherits. */
function charsetFrom(elements: readonly DicomElement[], inherited: DicomCharset): DicomCharset {
  const element = find(elements, Tag.SpecificCharacterSet);
  return element?.value === undefined ? inherited : charsetOf(decodeAscii(element.value).replace(/[\0 ]+$/, ''));
}

/** Upper case, the form in which identifying values and output text are compared. */
function fold(text: string): string {
  const upper = text.toUpperCase();
  if (upper.length === text.length) return upper;
  // Letters whose upper case is longer (ß → SS) stay as they are, so that offsets in a value do not move.
  let folded = '';
  for (const char of text) {
    const one = char.toUpperCase();
    folded += one.length === char.length ? one : char;
  }
  return folded;
}

/** Month names (English and French, full and short) as written in dates. */
const MONTHS: readonly (readonly string[])[] = [
  ['January', 'Jan', 'janvier', 'janv.'], ['February', 'Feb', 'février', 'févr.'], ['March', 'Mar', 'mars'], ['April', 'Apr', 'avril', 'avr.'],
  ['May', 'mai'], ['June', 'Jun', 'juin'], ['July', 'Jul', 'juillet', 'juil.'], ['August', 'Aug', 'août'],
  ['September', 'Sep', 'Sept', 'septembre', 'sept.'], ['October', 'Oct', 'octobre', 'oct.'], ['November', 'Nov', 'novembre', 'nov.'], ['December', 'Dec', 'décembre', 'déc.'],
];

/** A date `YYYYMMDD` as people write it in free text (4-digit years, numbers or month names, with and without leading zeros). */
function dateForms(value: string): string[] {
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec(value);
  if (match === null) return [];
  const [, year, month, day] = match as unknown as [string, string, string, string];
  if (Number(month) < 1 || Number(month) > 12 || Number(day) < 1 || Number(day) > 31) return [];
  const forms = new Set([`${year}-${month}-${day}`, `${year}/${month}/${day}`, `${year}.${month}.${day}`]);
  for (const [d, m] of [[day, month], [String(Number(day)), String(Number(month))]] as const) {
    for (const sep of ['/', '.', '-']) {
      forms.add(`${d}${sep}${m}${sep}${year}`);
      forms.add(`${m}${sep}${d}${sep}${year}`);
    }
  }
  const names = MONTHS[Number(month) - 1] ?? [];
  for (const name of names) {
    for (const d of new Set([day, String(Number(day))])) {
      forms.add(`${d} ${name} ${year}`);
      forms.add(`${name} ${d}, ${year}`);
      forms.add(`${name} ${d} ${year}`);
    }
  }
  return [...forms];
}

type Part = { readonly part: string; readonly exact: string; readonly kind: IdentifyingKind; readonly short: boolean; readonly gate?: string };
/** The checkable parts of one identifying value, cached: values repeat from file to file. */
const partsCache = new Map<string, readonly Part[]>();

/**
 * What of a value must not survive: the whole value; for person names each component (family, given...) of each
 * group (alphabetic, ideographic, phonetic) and each word of three characters or more; for identifiers the runs of
 * five digits or more they contain (MRN998877 → 998877); for dates their usual written forms (12/04/1961...).
 */
function partsOf(text: string, kind: IdentifyingKind, staff: boolean): readonly Part[] {
  const key = `${kind}${staff ? '+' : '-'}${text}`;
  const cached = partsCache.get(key);
  if (cached !== undefined) return cached;
  const parts: Part[] = [];
  const add = (candidate: string, partKind: IdentifyingKind, minimum: number, gate?: string): void => {
    const exact = candidate.trim();
    const part = fold(exact);
    if (part.length < minimum || /^[0\s.^=,-]*$/.test(part) || parts.some((known) => known.exact === exact)) return;
    parts.push(gate === undefined ? { part, exact, kind: partKind, short: part.length < 4 } : { part, exact, kind: partKind, short: false, gate });
  };
  for (const value of text.replace(/[\0 ]+$/, '').split('\\')) {
    const trimmed = value.trim();
    // Names of staff and content creators may also name equipment (e.g. a lab's software): exempt there like parts.
    add(trimmed, staff ? 'name-part' : kind, 4);
    if (kind === 'name') {
      for (const group of trimmed.split('=')) {
        const components = group.split('^').map((component) => component.trim());
        for (const component of components) {
          add(component, 'name-part', 2);
          for (const word of component.split(/[\s,]+/)) add(word, 'name-part', 3);
        }
        // The name as people write it: "Jane Doe", "Doe Jane", "Doe, Jane", "J. Doe", "J Doe" (any case).
        const [family = '', given = ''] = components;
        if (family.length >= 2 && given.length >= 2) {
          const initial = given.charAt(0);
          for (const written of [`${given} ${family}`, `${family} ${given}`, `${family}, ${given}`, `${initial}. ${family}`, `${initial} ${family}`, `${family}, ${initial}.`]) {
            // Every variant contains the family name: when the output lacks it, none is searched.
            add(written, 'name', 4, fold(family));
          }
        }
      }
    }
    // Address lines (street, city...) in any case.
    if (kind === 'address') for (const line of trimmed.split('^')) add(line, 'address', 4);
    if (kind === 'id') for (const digits of trimmed.match(/\d{5,}/g) ?? []) add(digits, 'id', 5);
    if (kind === 'date') for (const form of dateForms(trimmed)) add(form, 'date', 8, trimmed.slice(0, 4));
  }
  if (partsCache.size >= 4096) partsCache.clear();
  partsCache.set(key, parts);
  return parts;
}

/**
 * The identifying values of the source file: the attributes above at any sequence depth, and every person name (PN)
 * anywhere (physicians, operators, observers, SR person names), with their components, read in the character set
 * of the data set or item that holds them.
 */
function collectIdentifying(file: DicomFile, options: Readonly<Record<DeidOption, boolean>>, charset: DicomCharset): IdentifyingValue[] {
  const wanted = wantedIdentifying(options);
  const seen = new Set<string>();
  const values: IdentifyingValue[] = [];
  const add = (label: string, kind: IdentifyingKind, element: DicomElement, itemCharset: DicomCharset, staff = false): void => {
    if (element.value === undefined) return;
    const text = kind === 'uid' || kind === 'date' ? decodeAscii(element.value) : decodeDicomText(element.value, itemCharset);
    for (const { part, exact, kind: partKind, short, gate } of partsOf(text, kind, staff)) {
      if (seen.has(exact)) continue;
      seen.add(exact);
      values.push(gate === undefined ? { label, kind: partKind, text: part, exact, short } : { label, kind: partKind, text: part, exact, short, gate });
    }
  };
  const visit = (elements: readonly DicomElement[], depth: number, itemCharset: DicomCharset): void => {
    for (const element of elements) {
      if (isPrivateTag(element.tag)) continue;
      const entry = wanted.get(element.tag);
      if (entry !== undefined) add(entry[0], entry[1], element, itemCharset);
      else if (element.vr === 'PN') add(keywordOf(element.tag) || 'a person name', 'name', element, itemCharset, true);
      if (element.items !== undefined && depth < 8) for (const item of element.items) visit(item.elements, depth + 1, charsetFrom(item.elements, itemCharset));
    }
  };
  visit(file.dataset, 0, charset);
  return values;
}

const wantedByOptions = new WeakMap<object, Map<number, readonly [string, IdentifyingKind]>>();
/** The identifying attributes checked under these options (options that retain a kind of value exempt it). */
function wantedIdentifying(options: Readonly<Record<DeidOption, boolean>>): Map<number, readonly [string, IdentifyingKind]> {
  const cached = wantedByOptions.get(options);
  if (cached !== undefined) return cached;
  const wanted = new Map<number, readonly [string, IdentifyingKind]>();
  for (const [tag, label, kind] of IDENTIFYING_TAGS) {
    if (kind === 'date' && options.retainLongitudinalFullDates) continue;
    if (kind === 'uid' && options.retainUids) continue;
    if (kind === 'institution' && options.retainInstitutionIdentity) continue;
    if (kind === 'device' && options.retainDeviceIdentity) continue;
    wanted.set(tag, [label, kind]);
  }
  wantedByOptions.set(options, wanted);
  return wanted;
}

/** Letters and digits, except ideographs, kana and hangul (written without spaces: every character is a boundary). */
const WORD_CHARACTER = '[[\\p{L}\\p{N}]--[\\p{sc=Han}\\p{sc=Hiragana}\\p{sc=Katakana}\\p{sc=Hangul}]]';
const wordCharacter = new RegExp(WORD_CHARACTER, 'v');

let writtenDates: RegExp | undefined;
/** Any date as written in free text: 2022-11-03, 03/11/2022, 3.11.22, 3 Nov 2022, November 3, 2022. */
function writtenDatePattern(): RegExp {
  const month = MONTHS.flat().map(escapeRegExp).join('|');
  writtenDates ??= new RegExp(
    `(?<!${WORD_CHARACTER})(?:\\d{4}[\\-\\/.]\\d{1,2}[\\-\\/.]\\d{1,2}|\\d{1,2}[\\-\\/.]\\d{1,2}[\\-\\/.]\\d{2,4}|\\d{1,2} (?:${month}) \\d{4}|(?:${month}) \\d{1,2},? \\d{4})(?!${WORD_CHARACTER})`,
    'giv',
  );
  return writtenDates;
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/** The identifying values of a file as one pattern: whole tokens, any case (null when there are none). */
function cleanPatternOf(state: FileState): RegExp | null {
  if (state.cleanPattern !== undefined) return state.cleanPattern;
  const needles = state.identifying.map(({ text }) => text).filter((text) => !state.constants.has(text));
  needles.sort((a, b) => b.length - a.length);
  state.cleanPattern = needles.length === 0 ? null : new RegExp(`(?<!${WORD_CHARACTER})(?:${needles.map(escapeRegExp).join('|')})(?!${WORD_CHARACTER})`, 'giv');
  return state.cleanPattern;
}

/**
 * Clean (C) of free text: every identifying value of the file found in it, as a whole token and in any case, is
 * replaced by asterisks, in the value's own character set. Where the set cannot be written back character for
 * character (multi-byte sets other than UTF-8), a value with a finding is replaced as a whole.
 */
function scrub(value: Uint8Array, state: FileState, charset: DicomCharset): { bytes: Uint8Array; removed: number } {
  const pattern = cleanPatternOf(state);
  const text = decodeDicomText(value, charset);
  let removed = 0;
  const star = (match: string): string => {
    removed++;
    return '*'.repeat(match.length);
  };
  let cleaned = pattern === null ? text : text.replace(pattern, star);
  // Dates in free text are identifying too (E.1-1 note 4), whoever they belong to, unless Full Dates keeps them.
  if (!state.keepDates) cleaned = cleaned.replace(writtenDatePattern(), star);
  if (removed === 0) return { bytes: value, removed };
  if (charset.kind === 'utf8') return { bytes: new TextEncoder().encode(cleaned), removed };
  if ((charset.kind === 'default' || charset.kind === 'single') && text.length === value.length) {
    // One byte per character in these sets: blank the same positions in the source bytes.
    const bytes = value.slice();
    for (let i = 0; i < cleaned.length && i < bytes.length; i++) if (cleaned[i] === '*' && text[i] !== '*') bytes[i] = 0x2a;
    return { bytes, removed };
  }
  return { bytes: encodeAscii('ANONYMIZED'), removed };
}

type IdentifyingKind = 'id' | 'name' | 'name-part' | 'address' | 'date' | 'uid' | 'institution' | 'device';
const CHECK_TEXT_VRS = new Set(['AE', 'CS', 'LO', 'LT', 'PN', 'SH', 'ST', 'UC', 'UT', 'UR', 'UN', 'OB']);
/** Attributes that legitimately repeat an institution or device value (the manufacturer is often the institution's name in test data). */
const EQUIPMENT = [0x00080070, 0x00081090, 0x00181020, 0x00181016, 0x00181018, 0x00181019];
const EXEMPT: Partial<Record<IdentifyingKind, ReadonlySet<number>>> = {
  institution: new Set(EQUIPMENT),
  // A single name component (e.g. "Test") may also be a word of an equipment description; whole names are not exempt.
  'name-part': new Set(EQUIPMENT),
};

function isWordChar(text: string, index: number): boolean {
  const code = text.charCodeAt(index);
  if (code < 0x80) return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
  return wordCharacter.test(String.fromCodePoint(text.codePointAt(index) ?? code));
}

/** `needle` occurs in `text[from, to)` as a whole token (not inside a longer word or number). */
function tokenAt(text: string, needle: string, from: number, to: number): boolean {
  for (let i = text.indexOf(needle, from); i !== -1 && i + needle.length <= to; i = text.indexOf(needle, i + 1)) {
    if (i > from && isWordChar(text, i - 1)) continue;
    if (i + needle.length < to && isWordChar(text, i + needle.length)) continue;
    return true;
  }
  return false;
}

/** Free text, where a short name component is looked for (not in codes, identifiers or binary values). */
const FREE_TEXT_VRS = new Set(['LO', 'LT', 'PN', 'SH', 'ST', 'UC', 'UT']);

function checkedVr(kind: IdentifyingKind, vr: string): boolean {
  // Everything else (names, identifiers, addresses, institution, device): text VRs only.
  if (kind === 'uid') return vr === 'UI' || CHECK_TEXT_VRS.has(vr);
  if (kind === 'date') return vr === 'DA' || vr === 'DT' || CHECK_TEXT_VRS.has(vr);
  // A single name component is not looked for in codes (CS: "HEAD", "PERFUSION") or application titles.
  if (kind === 'name-part' || kind === 'address') return CHECK_TEXT_VRS.has(vr) && vr !== 'CS' && vr !== 'AE';
  return CHECK_TEXT_VRS.has(vr);
}

/** The values to scan, laid end to end in one string (one search per identifying value, not one per element). */
interface Haystack {
  /** Values in upper case, and as written (same lengths). */
  readonly parts: string[];
  readonly exact: string[];
  /** Per scanned element: where its value starts and ends in the joined text, its tag, VR and path prefix. */
  readonly starts: number[];
  readonly ends: number[];
  readonly tags: number[];
  readonly vrs: string[];
  readonly prefixes: string[];
  length: number;
}

/**
 * The residual-PHI check: scans every element that will be written (new values and the source bytes of the
 * elements copied unchanged, at every sequence depth, and the new file meta) for the identifying values of the
 * source file, as whole tokens, in the value representations where such a value can hide. Untouched bulk data
 * (pixel data) is not scanned: burned-in text is the risk gate's job. Survivors are named by attribute and path,
 * never by value.
 */
function residualCheck(meta: Uint8Array, state: FileState, out: readonly OutElement[], charset: DicomCharset): { passed: boolean; valuesChecked: number; survivors: string[] } {
  const needles = state.identifying.filter(({ text, exact }) => !state.constants.has(text) && !state.constants.has(exact));
  const listed = new Set(needles.map(({ text }) => text));
  for (const uid of state.replacedUids) {
    // A degenerate value ("0", "1.2") is no link to anything, and would be found inside every other UID.
    if (!listed.has(uid) && uid.length >= 8 && uid.includes('.')) needles.push({ label: 'a replaced UID', kind: 'uid', text: uid, exact: uid, short: false });
  }
  const found = new Map<string, string[]>();
  const note = (label: string, where: string): void => {
    const list = found.get(label);
    if (list === undefined) found.set(label, [where]);
    else list.push(where);
  };
  if (needles.length > 0) {
    const hay: Haystack = { parts: [], exact: [], starts: [], ends: [], tags: [], vrs: [], prefixes: [], length: 0 };
    gather(out, state.source, '', hay, charset);
    // A separator that is not a word character: a match cannot run from one value into the next.
    const folded = hay.parts.join('\n');
    const written = hay.exact.join('\n');
    const gates = new Map<string, boolean>();
    for (const needle of needles) {
      if (needle.gate !== undefined) {
        let open = gates.get(needle.gate);
        if (open === undefined) gates.set(needle.gate, (open = folded.includes(needle.gate)));
        if (!open) continue;
      }
      // Name components in their own case; whole names, identifiers, dates, addresses and UIDs in any case.
      const [text, sought] = needle.kind === 'name-part' ? [written, needle.exact] : [folded, needle.text];
      for (let at = text.indexOf(sought); at !== -1; at = text.indexOf(sought, at + 1)) {
        const index = elementAt(hay.starts, at);
        const start = hay.starts[index] ?? 0;
        const end = hay.ends[index] ?? 0;
        const tag = hay.tags[index] ?? 0;
        const vr = hay.vrs[index] ?? '';
        if (at + sought.length > end) continue;
        if (!checkedVr(needle.kind, vr) || (needle.short && !FREE_TEXT_VRS.has(vr)) || EXEMPT[needle.kind]?.has(tag) === true) continue;
        if (state.optionKept.has(tag) && !PATIENT_IDENTITY.has(needle.label)) continue;
        if (at > start && isWordChar(text, at - 1)) continue;
        if (at + sought.length < end && isWordChar(text, at + sought.length)) continue;
        note(needle.label, `${hay.prefixes[index] ?? ''}${formatTag(tag)}`);
      }
    }
    const metaText = decodeAscii(meta);
    for (const { label, kind, text: needle } of needles) {
      if (kind === 'uid' && tokenAt(metaText, needle, 0, metaText.length)) note(label, 'file meta');
    }
  }
  const survivors = [...found].map(([label, where]) => `${label} in ${where.slice(0, 3).join(' ')}`);
  return { passed: survivors.length === 0, valuesChecked: needles.length, survivors };
}

/** The index of the element whose value range holds `position` (binary search on the start offsets). */
function elementAt(starts: readonly number[], position: number): number {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >>> 1;
    if ((starts[mid] ?? 0) <= position) low = mid;
    else high = mid - 1;
  }
  return low;
}

function gather(out: readonly OutElement[], source: ByteSource, prefix: string, hay: Haystack, charset: DicomCharset): void {
  let itemCharset = charset;
  const own = out.find((element) => outTag(element) === Tag.SpecificCharacterSet);
  if (own !== undefined && prefix !== '') {
    const bytes = own.kind === 'value' ? own.value : own.kind === 'raw' ? own.element.value : undefined;
    if (bytes !== undefined) itemCharset = charsetOf(decodeAscii(bytes).replace(/[\0 ]+$/, ''));
  }
  for (const element of out) {
    const tag = outTag(element);
    if (element.kind === 'sequence') {
      element.items.forEach((item, index) => gather(item, source, `${prefix}${formatTag(tag)}[${index}].`, hay, itemCharset));
      continue;
    }
    if (element.kind === 'raw') {
      gatherSource(element.element, source, prefix, hay, itemCharset);
      continue;
    }
    const vr = isPrivateTag(tag) ? 'UN' : element.vr;
    // Values the engine wrote itself (markers, code meanings) are not the source's.
    if (element.generated === true) continue;
    if (checkedValueVr(vr) && element.value.length > 0) addToHaystack(hay, element.value, tag, vr, prefix, itemCharset);
  }
}

/** An element copied from the source as it is, with its items when it is a sequence (all of them are written too). */
function gatherSource(element: DicomElement, source: ByteSource, prefix: string, hay: Haystack, charset: DicomCharset): void {
  const tag = element.tag;
  if (element.items !== undefined) {
    element.items.forEach((item, index) => {
      const itemCharset = charsetFrom(item.elements, charset);
      for (const child of item.elements) gatherSource(child, source, `${prefix}${formatTag(tag)}[${index}].`, hay, itemCharset);
    });
    return;
  }
  const vr = isPrivateTag(tag) ? 'UN' : element.vr === 'UN' ? (lookupTag(tag)?.vr ?? 'UN') : element.vr;
  if (!checkedValueVr(vr)) return;
  const bytes = element.value ?? (element.fragments === undefined && tag !== Tag.PixelData ? source.read(element.valueOffset, element.valueLength) : undefined);
  if (bytes !== undefined && bytes.length > 0) addToHaystack(hay, bytes, tag, vr, prefix, charset);
}

function checkedValueVr(vr: string): boolean {
  return CHECK_TEXT_VRS.has(vr) || vr === 'UI' || vr === 'DA' || vr === 'DT';
}

/** Character data read in its character set; other values (UIDs, dates, unknown bytes) byte for byte. */
const CHARACTER_VRS = new Set([...FREE_TEXT_VRS, 'UN', 'OB']);

/** Identifying values of the patient: never exempt, even in an attribute an option keeps. */
const PATIENT_IDENTITY = new Set(['PatientName', 'PatientID', 'OtherPatientIDs', 'OtherPatientNames', 'PatientBirthName', 'PatientMotherBirthName', 'PatientBirthDate', 'PatientAddress', 'PatientTelephoneNumbers', 'MedicalRecordLocator']);

function addToHaystack(hay: Haystack, bytes: Uint8Array, tag: number, vr: string, prefix: string, charset: DicomCharset): void {
  const exact = CHARACTER_VRS.has(vr) ? decodeDicomText(bytes, charset) : decodeAscii(bytes);
  // fold() keeps lengths, so the two forms share offsets.
  const value = fold(exact);
  hay.parts.push(value);
  hay.exact.push(exact);
  hay.starts.push(hay.length);
  hay.ends.push(hay.length + value.length);
  hay.tags.push(tag);
  hay.vrs.push(vr);
  hay.prefixes.push(prefix);
  hay.length += value.length + 1;
}

/** Blanks the mask rectangles in native pixel data; a string says why it cannot. */
function applyMask(file: DicomFile, mask: DeidProfile['pixelMasks'][number]): Uint8Array | string {
  const pixel = find(file.dataset, Tag.PixelData);
  if (pixel === undefined) return 'there is no pixel data to mask';
  if (pixel.fragments !== undefined || pixel.length === 0xffffffff) return 'masking compressed (encapsulated) pixel data is not supported; decompress first';
  const little = pixel.encoding.littleEndian;
  const num = (tag: number): number | undefined => readUint16(find(file.dataset, tag)?.value, little);
  const rows = num(Tag.Rows);
  const columns = num(Tag.Columns);
  const bits = num(Tag.BitsAllocated);
  const samples = num(Tag.SamplesPerPixel) ?? 1;
  const planar = num(Tag.PlanarConfiguration) ?? 0;
  if (rows === undefined || columns === undefined || bits === undefined || bits % 8 !== 0) return 'the pixel data layout is not supported for masking';
  const bytesPerSample = bits / 8;
  const frameBytes = rows * columns * samples * bytesPerSample;
  if (frameBytes === 0 || pixel.valueLength < frameBytes) return 'the pixel data is shorter than its declared layout';
  const frames = Math.floor(pixel.valueLength / frameBytes);
  const pixels = file.datasetSource.read(pixel.valueOffset, pixel.valueLength).slice();
  for (let frame = 0; frame < frames; frame++) {
    const base = frame * frameBytes;
    for (const rect of mask.rectangles) {
      const x0 = Math.min(rect.x, columns);
      const x1 = Math.min(rect.x + rect.width, columns);
      const y1 = Math.min(rect.y + rect.height, rows);
      for (let y = Math.min(rect.y, rows); y < y1; y++) {
        if (planar === 1 && samples > 1) {
          for (let s = 0; s < samples; s++) {
            const plane = base + s * rows * columns * bytesPerSample;
            pixels.fill(0, plane + (y * columns + x0) * bytesPerSample, plane + (y * columns + x1) * bytesPerSample);
          }
        } else {
          const stride = samples * bytesPerSample;
          pixels.fill(0, base + (y * columns + x0) * stride, base + (y * columns + x1) * stride);
        }
      }
    }
  }
  return pixels;
}

export function assertNever(value: never): never {
  throw new AppError('INTERNAL', [{ path: '', issue: `unexpected ${String(value)}` }]);
}
