import { AppError } from '../errors/app-error.js';

/**
 * A small, strict YAML subset for project profiles (no dependency): block mappings and sequences by indentation,
 * `- key: value` items, flow sequences `[a, b]` and flow mappings `{x: 1, y: 2}` of scalars, quoted and plain
 * scalars, comments. Anchors, aliases, tags, multi-line scalars and multiple documents are refused with the line
 * number, so a profile never means something other than what it says.
 */
export type YamlValue = string | number | boolean | null | YamlValue[] | { [key: string]: YamlValue };

interface Line {
  readonly indent: number;
  readonly text: string;
  readonly number: number;
}

function fail(line: number, issue: string): never {
  throw new AppError('DEID_PROFILE_INVALID', [{ path: `line ${line}`, issue }]);
}

function stripComment(text: string): string {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote !== undefined) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || text[i - 1] === ' ' || text[i - 1] === '\t')) return text.slice(0, i);
  }
  return text;
}

function scalar(raw: string, line: number): YamlValue {
  const text = raw.trim();
  if (text === '') return null;
  if (text.startsWith('"')) {
    if (!text.endsWith('"') || text.length < 2) fail(line, 'unterminated double-quoted string');
    try {
      return JSON.parse(text) as string;
    } catch {
      fail(line, 'invalid double-quoted string');
    }
  }
  if (text.startsWith("'")) {
    if (!text.endsWith("'") || text.length < 2) fail(line, 'unterminated single-quoted string');
    return text.slice(1, -1).replace(/''/g, "'");
  }
  if (/^[&*!|>%@`]/.test(text)) fail(line, `unsupported YAML syntax "${text[0]}" (anchors, aliases, tags and block scalars are not allowed)`);
  if (text.startsWith('[')) return flow(text, line);
  if (text.startsWith('{')) return flowMap(text, line);
  if (text === 'true' || text === 'True' || text === 'TRUE') return true;
  if (text === 'false' || text === 'False' || text === 'FALSE') return false;
  if (text === 'null' || text === '~' || text === 'Null' || text === 'NULL') return null;
  if (/^[-+]?\d+$/.test(text)) return Number.parseInt(text, 10);
  if (/^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$/.test(text)) return Number.parseFloat(text);
  return text;
}

/** Splits a flow collection body at top-level commas. */
function splitFlow(body: string, line: number): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (quote !== undefined) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(body.slice(start, i));
      start = i + 1;
    }
  }
  if (quote !== undefined || depth !== 0) fail(line, 'unbalanced flow collection');
  const last = body.slice(start);
  if (last.trim() !== '' || parts.length > 0) parts.push(last);
  return parts.map((part) => part.trim()).filter((part, index, all) => part !== '' || index < all.length - 1);
}

function flow(text: string, line: number): YamlValue[] {
  if (!text.endsWith(']')) fail(line, 'a flow sequence must end with ]');
  return splitFlow(text.slice(1, -1), line).map((part) => scalar(part, line));
}

function flowMap(text: string, line: number): { [key: string]: YamlValue } {
  if (!text.endsWith('}')) fail(line, 'a flow mapping must end with }');
  const map: { [key: string]: YamlValue } = {};
  for (const part of splitFlow(text.slice(1, -1), line)) {
    const split = splitKey(part, line);
    if (split === undefined) fail(line, `expected "key: value" in a flow mapping, found "${part}"`);
    map[split.key] = scalar(split.rest, line);
  }
  return map;
}

/** `key: rest` (the colon followed by a space or the end), outside quotes. */
function splitKey(text: string, line: number): { key: string; rest: string } | undefined {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote !== undefined) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '{') return undefined;
    else if (c === ':' && (i === text.length - 1 || text[i + 1] === ' ')) {
      const rawKey = text.slice(0, i).trim();
      const key = scalar(rawKey, line);
      if (typeof key !== 'string' && typeof key !== 'number') fail(line, 'a mapping key must be a string');
      return { key: String(key), rest: text.slice(i + 1) };
    }
  }
  return undefined;
}

class Parser {
  private index = 0;
  constructor(private readonly lines: Line[]) {}

  private peek(): Line | undefined {
    return this.lines[this.index];
  }

  parseDocument(): YamlValue {
    const first = this.peek();
    if (first === undefined) return null;
    const value = this.node(first.indent);
    const rest = this.peek();
    if (rest !== undefined) fail(rest.number, 'unexpected indentation');
    return value;
  }

  private node(indent: number): YamlValue {
    const line = this.peek();
    if (line === undefined) return null;
    if (line.text === '-' || line.text.startsWith('- ')) return this.sequence(indent);
    if (splitKey(line.text, line.number) !== undefined) return this.mapping(indent);
    this.index++;
    return scalar(line.text, line.number);
  }

  private sequence(indent: number): YamlValue[] {
    const items: YamlValue[] = [];
    for (let line = this.peek(); line !== undefined && line.indent === indent && (line.text === '-' || line.text.startsWith('- ')); line = this.peek()) {
      const rest = line.text.slice(1);
      const restTrimmed = rest.trim();
      if (restTrimmed === '') {
        this.index++;
        const next = this.peek();
        items.push(next !== undefined && next.indent > indent ? this.node(next.indent) : null);
        continue;
      }
      const itemIndent = indent + 1 + (rest.length - rest.trimStart().length);
      if (splitKey(restTrimmed, line.number) !== undefined || restTrimmed.startsWith('- ')) {
        // "- key: value": a mapping (or nested sequence) whose first line starts after the dash.
        this.lines[this.index] = { indent: itemIndent, text: restTrimmed, number: line.number };
        items.push(this.node(itemIndent));
      } else {
        this.index++;
        items.push(scalar(restTrimmed, line.number));
      }
    }
    return items;
  }

  private mapping(indent: number): { [key: string]: YamlValue } {
    const map: { [key: string]: YamlValue } = {};
    for (let line = this.peek(); line !== undefined && line.indent === indent; line = this.peek()) {
      if (line.text === '-' || line.text.startsWith('- ')) fail(line.number, 'a sequence item where a mapping key was expected');
      const split = splitKey(line.text, line.number);
      if (split === undefined) fail(line.number, `expected "key: value", found "${line.text}"`);
      if (Object.prototype.hasOwnProperty.call(map, split.key)) fail(line.number, `duplicate key "${split.key}"`);
      this.index++;
      if (split.rest.trim() !== '') {
        map[split.key] = scalar(split.rest, line.number);
        continue;
      }
      const next = this.peek();
      if (next !== undefined && (next.indent > indent || (next.indent === indent && (next.text === '-' || next.text.startsWith('- '))))) {
        map[split.key] = this.node(next.indent);
      } else map[split.key] = null;
    }
    return map;
  }
}

/** Parses a profile written in the YAML subset above (AppError DEID_PROFILE_INVALID with the line on error). */
export function parseProfileYaml(text: string): YamlValue {
  const lines: Line[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    if (raw.includes('\t') && /^\s*\t/.test(raw)) fail(index + 1, 'tabs are not allowed for indentation');
    const stripped = stripComment(raw).replace(/\s+$/, '');
    if (stripped.trim() === '') return;
    if (index === 0 && stripped.trim() === '---') return;
    if (stripped.trim() === '---' || stripped.trim() === '...') fail(index + 1, 'only one YAML document is allowed');
    const indent = stripped.length - stripped.trimStart().length;
    lines.push({ indent, text: stripped.trim(), number: index + 1 });
  });
  return new Parser(lines).parseDocument();
}
