import { describe, expect, it } from 'vitest';
import { charsetOf, decodeDicomText } from './charset.js';

const bytes = (text: string): Uint8Array => Uint8Array.from([...text].map((char) => char.charCodeAt(0)));

describe('DICOM character sets', () => {
  it('reads the default repertoire, Latin-1 and UTF-8', () => {
    expect(decodeDicomText(bytes('Doe^Jane'), charsetOf(''))).toBe('Doe^Jane');
    expect(decodeDicomText(bytes('M\xfcller'), charsetOf('ISO_IR 100'))).toBe('Müller');
    expect(decodeDicomText(new TextEncoder().encode('Müller^Jürgen'), charsetOf('ISO_IR 192'))).toBe('Müller^Jürgen');
  });

  it('reads other single-byte sets (Cyrillic, Greek)', () => {
    // PS3.5 H.3 style examples: Люкceмбypг in ISO-8859-5, Διονυσιος in ISO-8859-7.
    expect(decodeDicomText(Uint8Array.of(0xbb, 0xee, 0xda), charsetOf('ISO_IR 144'))).toBe('Люк');
    expect(decodeDicomText(Uint8Array.of(0xc4, 0xe9, 0xef), charsetOf('ISO_IR 126'))).toBe('Διο');
  });

  it('reads Japanese with ISO 2022 code extensions (PS3.5 H.3.1)', () => {
    const value = bytes('Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B');
    expect(decodeDicomText(value, charsetOf('\\ISO 2022 IR 87'))).toBe('Yamada^Tarou=山田^太郎=やまだ^たろう');
  });

  it('reads Japanese half-width Katakana in G1 (ISO 2022 IR 13)', () => {
    expect(decodeDicomText(Uint8Array.of(0xd4, 0xcf, 0xc0, 0xde), charsetOf('ISO 2022 IR 13\\ISO 2022 IR 87'))).toBe('ﾔﾏﾀﾞ');
  });

  it('reads Korean with ISO 2022 IR 149 (PS3.5 I.2)', () => {
    // Hong^Gildong=洪^吉洞 (KS X 1001 in G1 after ESC $ ) C)
    const value = Uint8Array.of(...bytes('Hong^Gildong='), 0x1b, 0x24, 0x29, 0x43, 0xfb, 0xf3, 0x5e, 0x1b, 0x24, 0x29, 0x43, 0xd1, 0xce, 0xd4, 0xd7);
    expect(decodeDicomText(value, charsetOf('\\ISO 2022 IR 149'))).toBe('Hong^Gildong=洪^吉洞');
  });

  it('reads GB18030', () => {
    expect(decodeDicomText(Uint8Array.of(0xd5, 0xc5, 0x5e, 0xd0, 0xa1, 0xb6, 0xab), charsetOf('GB18030'))).toBe('张^小东');
  });
});
