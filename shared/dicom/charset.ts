import { decodeAscii } from './values.js';

/**
 * DICOM character data as text (PS3.3 C.12.1.1.2, PS3.5 6.1): the Specific Character Set of a data set (or of a
 * sequence item that has its own) decides how the bytes of SH, LO, ST, LT, UC, UT and PN values read. Single-byte
 * sets, UTF-8, GB18030/GBK and the ISO 2022 code extensions (Japanese, Korean, Chinese, and the single-byte G1 sets)
 * are decoded with the WHATWG decoders every environment of shared/ has; a set without a decoder reads as Latin-1.
 */
export interface DicomCharset {
  /** The defined terms, as in (0008,0005). */
  readonly terms: readonly string[];
  readonly kind: 'default' | 'single' | 'utf8' | 'multi' | 'iso2022';
  /** WHATWG label of the single-byte or multi-byte set (kinds `single`, `multi`), or of the initial G1 set. */
  readonly label?: string;
}

/** Single-byte sets by defined term (without and with code extensions). */
const SINGLE_BYTE: Record<string, string> = {
  'IR 100': 'iso-8859-1',
  'IR 101': 'iso-8859-2',
  'IR 109': 'iso-8859-3',
  'IR 110': 'iso-8859-4',
  'IR 144': 'iso-8859-5',
  'IR 127': 'iso-8859-6',
  'IR 126': 'iso-8859-7',
  'IR 138': 'iso-8859-8',
  'IR 148': 'iso-8859-9',
  'IR 203': 'iso-8859-15',
  'IR 166': 'windows-874',
  'IR 13': 'shift_jis',
};

export const DEFAULT_CHARSET: DicomCharset = { terms: [], kind: 'default' };

/** The character set named by a Specific Character Set value (backslash-separated defined terms). */
export function charsetOf(value: string): DicomCharset {
  const terms = value.split('\\').map((term) => term.trim().toUpperCase());
  const first = terms[0] ?? '';
  if (terms.every((term) => term === '' || term === 'ISO_IR 6' || term === 'ISO 2022 IR 6')) return DEFAULT_CHARSET;
  if (first === 'ISO_IR 192') return { terms, kind: 'utf8' };
  if (first === 'GB18030' || first === 'GBK') return { terms, kind: 'multi', label: first === 'GBK' ? 'gbk' : 'gb18030' };
  if (terms.length > 1 || first.startsWith('ISO 2022')) {
    const initial = SINGLE_BYTE[first.replace(/^ISO 2022 |^ISO_/, '')];
    return initial === undefined ? { terms, kind: 'iso2022' } : { terms, kind: 'iso2022', label: initial };
  }
  const label = SINGLE_BYTE[first.replace(/^ISO_/, '')];
  return label === undefined ? DEFAULT_CHARSET : { terms, kind: 'single', label };
}

interface Decoder {
  decode(input?: Uint8Array): string;
}
const decoders = new Map<string, Decoder | null>();
function decoder(label: string): Decoder | null {
  let cached = decoders.get(label);
  if (cached === undefined) {
    try {
      cached = new TextDecoder(label);
    } catch {
      // This environment has no decoder for the set (e.g. Node without full ICU): Latin-1.
      cached = null;
    }
    decoders.set(label, cached);
  }
  return cached;
}

function decodeWith(label: string | undefined, bytes: Uint8Array): string {
  const codec = label === undefined ? null : decoder(label);
  return codec === null ? decodeAscii(bytes) : codec.decode(bytes);
}

/** Bytes of one value (or several, backslash-separated) as text in `charset`. */
export function decodeDicomText(bytes: Uint8Array, charset: DicomCharset): string {
  switch (charset.kind) {
    case 'default':
      return decodeAscii(bytes);
    case 'utf8':
      return decodeWith('utf-8', bytes);
    case 'single':
    case 'multi':
      return decodeWith(charset.label, bytes);
    case 'iso2022':
      return decodeIso2022(bytes, charset.label);
  }
}

const ESC = 0x1b;

/**
 * ISO 2022 code extensions as DICOM uses them: escape sequences switch G0 (7-bit bytes) between ASCII, JIS X 0201
 * Roman and JIS X 0208, and G1 (8-bit bytes) between the single-byte sets, JIS X 0201 Katakana, KS X 1001 and GB 2312.
 */
function decodeIso2022(bytes: Uint8Array, initialG1: string | undefined): string {
  let g0: 'ascii' | 'jisx0208' | 'other' = 'ascii';
  let g1: string | undefined = initialG1;
  let text = '';
  let run: number[] = [];
  let runKind: 'g0' | 'g1' = 'g0';
  const flush = (): void => {
    if (run.length === 0) return;
    const chunk = Uint8Array.from(run);
    if (runKind === 'g1') text += decodeWith(g1, chunk);
    else if (g0 === 'jisx0208') text += decodeWith('iso-2022-jp', Uint8Array.from([ESC, 0x24, 0x42, ...run, ESC, 0x28, 0x42]));
    else text += decodeAscii(chunk);
    run = [];
  };
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] ?? 0;
    if (byte === ESC) {
      flush();
      const a = bytes[i + 1];
      const b = bytes[i + 2];
      const c = bytes[i + 3];
      if (a === 0x28 && (b === 0x42 || b === 0x4a)) {
        g0 = 'ascii';
        i += 2;
      } else if (a === 0x24 && (b === 0x42 || b === 0x40)) {
        g0 = 'jisx0208';
        i += 2;
      } else if (a === 0x24 && b === 0x28 && c === 0x44) {
        g0 = 'other'; // JIS X 0212: no decoder; read as bytes
        i += 3;
      } else if (a === 0x29 && b === 0x49) {
        g1 = 'shift_jis'; // JIS X 0201 Katakana: the single-byte range of Shift_JIS
        i += 2;
      } else if (a === 0x24 && b === 0x29 && (c === 0x43 || c === 0x41)) {
        g1 = c === 0x43 ? 'euc-kr' : 'gb18030';
        i += 3;
      } else if (a === 0x2d && b !== undefined) {
        g1 = SINGLE_BYTE[ISO_2022_G1[b] ?? ''];
        i += 2;
      }
      continue;
    }
    const kind = byte >= 0x80 ? 'g1' : 'g0';
    if (kind !== runKind) {
      flush();
      runKind = kind;
    }
    run.push(byte);
  }
  flush();
  return text;
}

/** Final bytes of the G1 escape sequences `ESC - F` of the single-byte sets. */
const ISO_2022_G1: Record<number, string> = {
  0x41: 'IR 100',
  0x42: 'IR 101',
  0x43: 'IR 109',
  0x44: 'IR 110',
  0x4c: 'IR 144',
  0x47: 'IR 127',
  0x46: 'IR 126',
  0x48: 'IR 138',
  0x4d: 'IR 148',
  0x62: 'IR 203',
  0x54: 'IR 166',
};
