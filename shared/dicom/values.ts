/** Value codecs for the few VRs the engine reads or writes. Character data stays bytes wherever possible. */

/** Bytes → string, one char per byte (Latin-1), so that encodeAscii gives the same bytes back. */
export function decodeAscii(bytes: Uint8Array): string {
  if (bytes.length <= 64) {
    let text = '';
    for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i] ?? 0);
    return text;
  }
  let text = '';
  for (let i = 0; i < bytes.length; i += 4096) text += String.fromCharCode(...bytes.subarray(i, i + 4096));
  return text;
}

/** A string value without its trailing padding (space or NUL). Latin-1 unless the data set is UTF-8. */
export function decodeText(bytes: Uint8Array, utf8 = false): string {
  const text = utf8 ? new TextDecoder('utf-8').decode(bytes) : decodeAscii(bytes);
  return text.replace(/[\0 ]+$/, '');
}

export function encodeAscii(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  return bytes;
}

/** Encodes a string value of `vr`, padded to even length (UI with NUL, other text with a space). */
export function encodeStringValue(vr: string, text: string): Uint8Array {
  const raw = encodeAscii(text);
  if (raw.length % 2 === 0) return raw;
  const padded = new Uint8Array(raw.length + 1);
  padded.set(raw);
  padded[raw.length] = vr === 'UI' || vr === 'OB' ? 0 : 0x20;
  return padded;
}

export function readUint16(bytes: Uint8Array | undefined, littleEndian: boolean): number | undefined {
  if (bytes === undefined || bytes.length < 2) return undefined;
  const a = bytes[0] ?? 0;
  const b = bytes[1] ?? 0;
  return littleEndian ? a | (b << 8) : (a << 8) | b;
}

export function encodeUint16(value: number, littleEndian: boolean): Uint8Array {
  return littleEndian ? Uint8Array.of(value & 0xff, (value >> 8) & 0xff) : Uint8Array.of((value >> 8) & 0xff, value & 0xff);
}
