// @ts-expect-error -- dcmjs ships no type declarations; the part used here is typed below.
import { data } from 'dcmjs';

interface DictionaryEntry {
  readonly vr: string;
  readonly name: string;
  readonly tag: string;
}
/** dcmjs's data dictionary (tag → VR) and keyword map, for implicit-VR datasets and QIDO keywords. */
const meta = (data as { DicomMetaDictionary: { dictionary: Record<string, DictionaryEntry | undefined>; nameMap: Record<string, DictionaryEntry | undefined> } })
  .DicomMetaDictionary;

const cache = new Map<number, string>();

/** The VR of a standard tag for implicit-VR datasets; private and unknown tags are UN, private creators LO. */
export function vrOfTag(tag: number): string {
  const cached = cache.get(tag);
  if (cached !== undefined) return cached;
  const group = tag >>> 16;
  const element = tag & 0xffff;
  let vr: string;
  if (element === 0) vr = 'UL';
  else if (group % 2 === 1) vr = element >= 0x10 && element <= 0xff ? 'LO' : 'UN';
  else {
    const entry = meta.dictionary[tagHex(tag)];
    const raw = entry?.vr ?? 'UN';
    // "US or SS", "OB or OW": the first is the usual choice for implicit VR.
    vr = raw === 'ox' ? 'OW' : raw.slice(0, 2);
    if (!/^[A-Z]{2}$/.test(vr)) vr = 'UN';
  }
  cache.set(tag, vr);
  return vr;
}

/** `0020000D`: the DICOM JSON key of a tag. */
export function tagHex(tag: number): string {
  return (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
}

/** The tag (`00100020`) of a keyword (`PatientID`) or of a tag written in hex; undefined when unknown. */
export function tagOfKeyword(name: string): string | undefined {
  if (/^[0-9A-Fa-f]{8}$/.test(name)) return name.toUpperCase();
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(name)) return undefined;
  const entry = meta.nameMap[name];
  if (entry === undefined || entry.name !== name) return undefined;
  const tag = entry.tag.replace(/[(),]/g, '').toUpperCase();
  return /^[0-9A-F]{8}$/.test(tag) ? tag : undefined;
}
