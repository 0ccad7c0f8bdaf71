import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/**
 * Creates `path` with the bytes of `buffers` and makes it durable in one thread-pool task (whole blocks with direct
 * I/O, the last partial block with O_DSYNC); calls back with the number of bytes that went through direct I/O.
 */
export type WriteBlob = (path: string, buffers: readonly Buffer[], callback: (error: NodeJS.ErrnoException | null, directBytes?: number) => void) => void;
/** Opens `path`, reads up to target.length bytes at `start` into `target` and closes it, in one thread-pool task. */
export type ReadBlob = (path: string, start: number, target: Buffer, callback: (error: NodeJS.ErrnoException | null, bytesRead?: number) => void) => void;

export interface NativeBlobIo {
  readonly writeBlob: WriteBlob;
  readonly readBlob: ReadBlob;
}

/** Where the built module is: beside the bundles (app/native), or app/native of the repository when run from source. */
function candidates(): string[] {
  const here = typeof __dirname === 'string' ? __dirname : process.cwd();
  return [join(here, '..', 'native', 'blob-io.node'), join(here, '..', '..', 'app', 'native', 'blob-io.node')];
}

let loaded: NativeBlobIo | null | undefined;

/**
 * The one-task blob write and read (server/native, built by `npm run build` on Linux), or undefined when not built,
 * not loadable, or turned off with PARADIM_NATIVE_BLOB=off: the store then does its I/O in JavaScript.
 */
export function nativeBlobIo(): NativeBlobIo | undefined {
  if (loaded !== undefined) return loaded ?? undefined;
  loaded = null;
  if (process.platform !== 'linux' || process.env.PARADIM_NATIVE_BLOB === 'off') return undefined;
  const path = candidates().find((candidate) => existsSync(candidate));
  if (path === undefined) return undefined;
  try {
    const module = createRequire(path)(path) as Partial<NativeBlobIo>;
    if (typeof module.writeBlob === 'function' && typeof module.readBlob === 'function') loaded = { writeBlob: module.writeBlob, readBlob: module.readBlob };
  } catch {
    // A module built for another platform or damaged: do the I/O in JavaScript.
  }
  return loaded ?? undefined;
}
