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
