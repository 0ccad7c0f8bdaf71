import { dictionaryData } from './dictionary-data.js';

/** What PS3.6 says about a standard data element. */
export interface DictionaryEntry {
  readonly vr: string;
  readonly keyword: string;
}

let byTag: Map<number, DictionaryEntry> | undefined;
let byKeyword: Map<string, number> | undefined;

function load(): Map<number, DictionaryEntry> {
  if (byTag !== undefined) return byTag;
  byTag = new Map();
  byKeyword = new Map();
  for (const line of dictionaryData.split('\n')) {
    const tag = Number.parseInt(line.slice(0, 8), 16);
    const entry = { vr: line.slice(8, 10), keyword: line.slice(10) };
    byTag.set(tag, entry);
    byKeyword.set(entry.keyword, tag);
  }
  return byTag;
}

/** The dictionary entry of a tag; repeating groups (50xx, 60xx) are looked up by their first group. */
export function lookupTag(tag: number): DictionaryEntry | undefined {
  const map = load();
  const direct = map.get(tag);
  if (direct !== undefined) return direct;
  const group = tag >>> 16;
  if ((group & 0xff00) === 0x5000 || (group & 0xff00) === 0x6000) return map.get(((group & 0xff00) << 16 | (tag & 0xffff)) >>> 0);
  if ((tag & 0xffff) === 0 && group % 2 === 0) return { vr: 'UL', keyword: 'GenericGroupLength' };
  return undefined;
}

/** The tag of a DICOM keyword (exact spelling, e.g. `StudyInstanceUID`). */
export function tagOfKeyword(keyword: string): number | undefined {
  load();
  return byKeyword?.get(keyword);
}

export function keywordOf(tag: number): string {
  return lookupTag(tag)?.keyword ?? '';
}
