/**
 * Random access to the bytes of a file without holding the whole file: the parser reads headers through a small
 * window and records large values (pixel data) as byte ranges it never reads.
 */
export interface ByteSource {
  readonly size: number;
  /** `length` bytes at `offset`. The view is only valid until the next call: copy what you keep. */
  read(offset: number, length: number): Uint8Array;
}

/** A file already in memory. */
export class MemorySource implements ByteSource {
  readonly size: number;
  constructor(private readonly bytes: Uint8Array) {
    this.size = bytes.length;
  }

  read(offset: number, length: number): Uint8Array {
    return this.bytes.subarray(offset, offset + length);
  }
}

/**
 * A source read through a fixed-size window by a positional read function (e.g. fs.readSync in the Node runner),
 * so memory stays bounded whatever the file size.
 */
export class WindowedSource implements ByteSource {
  private window: Uint8Array;
  private windowStart = 0;
  private windowLength = 0;

  /** `window`: a size, or a buffer to reuse (the caller guarantees that one file is read at a time with it). */
  constructor(
    readonly size: number,
    private readonly readAt: (position: number, target: Uint8Array) => number,
    window: number | Uint8Array = 64 * 1024,
  ) {
    this.window = typeof window === 'number' ? new Uint8Array(window) : window;
  }

  /** The bytes when they are already in the window (no read), else undefined. */
  peek(offset: number, length: number): Uint8Array | undefined {
    if (offset >= this.windowStart && offset + length <= this.windowStart + this.windowLength) {
      return this.window.subarray(offset - this.windowStart, offset - this.windowStart + length);
    }
    return undefined;
  }

  read(offset: number, length: number): Uint8Array {
    if (offset >= this.windowStart && offset + length <= this.windowStart + this.windowLength) {
      return this.window.subarray(offset - this.windowStart, offset - this.windowStart + length);
    }
    if (length > this.window.length) this.window = new Uint8Array(Math.max(length, this.window.length * 2));
    const wanted = Math.min(this.window.length, Math.max(0, this.size - offset));
    let filled = 0;
    while (filled < wanted) {
      const got = this.readAt(offset + filled, this.window.subarray(filled, wanted));
      if (got <= 0) break;
      filled += got;
    }
    this.windowStart = offset;
    this.windowLength = filled;
    return this.window.subarray(0, Math.min(length, filled));
  }
}
