/**
 * A streaming multipart/related reader (RFC 2046 / 2387) built for throughput: it scans each network chunk once with
 * `Buffer.indexOf` for the delimiter and hands part bytes to a sink as they arrive, so no part and never the whole
 * request is held in memory. The caller's sink applies backpressure by returning promises.
 */

export interface PartSink {
  write(chunk: Buffer): Promise<void> | void;
  /** The part ended normally. */
  end(): void;
  /** The body ended inside this part (truncated request). */
  abort(reason: string): void;
}

export interface MultipartLimits {
  /** Largest allowed header block of one part. */
  maxHeaderBytes: number;
  maxParts: number;
}

export class MultipartError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'MultipartError';
  }
}

export type PartHeaders = Record<string, string>;

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

type State = 'preamble' | 'after-delimiter' | 'headers' | 'body' | 'expect-delimiter' | 'done';
const EMPTY = Buffer.alloc(0);

/** Reads the body; returns the number of parts seen and whether the closing delimiter was found. */
export async function readMultipart(
  body: AsyncIterable<Buffer | string>,
  boundary: string,
  onPart: (headers: PartHeaders, index: number) => Promise<PartSink> | PartSink,
  limits: MultipartLimits,
): Promise<{ parts: number; complete: boolean }> {
  // Prepending CRLF lets the first delimiter (which may open the body) match like the others.
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  let state = 'preamble' as State;
  let pending: Buffer = CRLF;
  let sink: PartSink | undefined;
  let parts = 0;
  /** Bytes left in the current part when it declared a Content-Length. */
  let remaining: number | undefined;

  const process = async (): Promise<void> => {
    for (;;) {
      if (state === 'body' && remaining !== undefined) {
        // The part declared its length: no scanning, just check that the delimiter follows.
        if (pending.length <= remaining) {
          if (pending.length > 0 && sink !== undefined) await sink.write(pending);
          remaining -= pending.length;
          pending = EMPTY;
          return;
        }
        if (remaining > 0 && sink !== undefined) await sink.write(pending.subarray(0, remaining));
        pending = pending.subarray(remaining);
        remaining = undefined;
        state = 'expect-delimiter';
      }
      if (state === 'expect-delimiter') {
        if (pending.length < delimiter.length) return;
        if (!pending.subarray(0, delimiter.length).equals(delimiter)) throw new MultipartError('a part does not end where its Content-Length says');
        sink?.end();
        sink = undefined;
        pending = pending.subarray(delimiter.length);
        state = 'after-delimiter';
      }
      if (state === 'preamble' || state === 'body') {
        const index = pending.indexOf(delimiter);
        if (index === -1) {
          // Keep a tail that could be the start of a delimiter split across chunks.
          const keep = Math.min(pending.length, delimiter.length - 1);
          const emit = pending.length - keep;
          if (state === 'body' && emit > 0 && sink !== undefined) await sink.write(pending.subarray(0, emit));
          pending = pending.subarray(emit);
          return;
        }
        if (state === 'body' && sink !== undefined) {
          if (index > 0) await sink.write(pending.subarray(0, index));
          sink.end();
          sink = undefined;
        }
        pending = pending.subarray(index + delimiter.length);
        state = 'after-delimiter';
      }
      if (state === 'after-delimiter') {
        if (pending.length < 2) return;
        if (pending[0] === 0x2d && pending[1] === 0x2d) {
          state = 'done';
          return;
        }
        // Transport padding (spaces, tabs) then CRLF.
        const eol = pending.indexOf(CRLF);
        if (eol === -1) {
          if (pending.length > 256) throw new MultipartError('a boundary line is malformed');
          return;
        }
        if (pending.subarray(0, eol).some((byte) => byte !== 0x20 && byte !== 0x09)) {
          // Not a delimiter after all (the boundary string followed by other text) is not allowed by RFC 2046.
          throw new MultipartError('a boundary line is malformed');
        }
        pending = pending.subarray(eol + 2);
        state = 'headers';
      }
      if (state === 'headers') {
        let headerText: string;
        if (pending.length >= 2 && pending[0] === 0x0d && pending[1] === 0x0a) {
          headerText = '';
          pending = pending.subarray(2);
        } else {
          const end = pending.indexOf(HEADER_END);
          if (end === -1) {
            if (pending.length > limits.maxHeaderBytes) throw new MultipartError('the headers of a part are too large');
            return;
          }
          if (end > limits.maxHeaderBytes) throw new MultipartError('the headers of a part are too large');
          headerText = pending.toString('latin1', 0, end);
          pending = pending.subarray(end + 4);
        }
        parts += 1;
        if (parts > limits.maxParts) throw new MultipartError('the request has too many parts');
        const headers = parseHeaders(headerText);
        const declared = headers['content-length'];
        remaining = declared !== undefined && /^\d{1,15}$/.test(declared) ? Number(declared) : undefined;
        sink = await onPart(headers, parts - 1);
        state = 'body';
      }
      if (state === 'done') return;
    }
  };

  try {
    for await (const raw of body) {
      const chunk = typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw;
      if (state === 'done') continue; // Epilogue: ignored.
      if (pending.length === 0) pending = chunk;
      else if (state === 'body' && remaining === undefined && pending.length < delimiter.length) {
        // Only a possible delimiter prefix is pending: check the seam without copying the whole chunk.
        const seam = Buffer.concat([pending, chunk.subarray(0, delimiter.length)]);
        const index = seam.indexOf(delimiter);
        if (index === -1 || index >= pending.length) {
          // No delimiter starts in the pending bytes: they are part data.
          if (sink !== undefined) await sink.write(pending);
          pending = chunk;
        } else pending = Buffer.concat([pending, chunk]);
      } else pending = Buffer.concat([pending, chunk]);
      await process();
    }
  } catch (error) {
    sink?.abort(error instanceof MultipartError ? error.reason : 'the request body could not be read');
    sink = undefined;
    throw error;
  }
  if (state !== 'done') {
    sink?.abort('the request ended inside this part (truncated body)');
    return { parts, complete: false };
  }
  return { parts, complete: true };
}

function parseHeaders(text: string): PartHeaders {
  const headers: PartHeaders = {};
  // Unfold continuation lines, then split name: value.
  for (const line of text.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** Parses a media type with parameters: `multipart/related; type="application/dicom"; boundary=x`. */
export function parseMediaType(value: string): { type: string; params: Record<string, string> } {
  const params: Record<string, string> = {};
  const parts = splitOutsideQuotes(value, ';');
  const type = (parts.shift() ?? '').trim().toLowerCase();
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    let raw = part.slice(eq + 1).trim();
    if (raw.startsWith('"') && raw.endsWith('"') && raw.length >= 2) raw = raw.slice(1, -1).replace(/\\(.)/g, '$1');
    params[name] = raw;
  }
  return { type, params };
}

/** Splits on a separator that is not inside double quotes. */
export function splitOutsideQuotes(value: string, separator: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i += 1) {
    const c = value[i] ?? '';
    if (c === '"' && value[i - 1] !== '\\') quoted = !quoted;
    if (c === separator && !quoted) {
      out.push(current);
      current = '';
    } else current += c;
  }
  out.push(current);
  return out;
}
