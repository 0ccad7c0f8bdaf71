/**
 * The few globals that every environment of shared/ provides (browsers, Electron renderer, Node ≥ 20),
 * declared narrowly so shared/ is checked without DOM or Node type libraries.
 */
declare class URL {
  constructor(url: string, base?: string | URL);
  readonly protocol: string;
  readonly username: string;
  readonly password: string;
  readonly host: string;
  readonly pathname: string;
  toString(): string;
}

/** Text codecs (WHATWG Encoding), used to read DICOM character data. */
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: Uint8Array): string;
}
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
