import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/**
 * Creates `path` with the bytes of `buffers` and makes it durable in one thread-pool task (whole blocks with direct
 * I/O, the last partial block with O_DSYNC); calls back with the number of bytes that went through direct I/O.
 */
export type WriteBlob = (path: string, buffers: readonly Buffer[], callback: (error: NodeJS.ErrnoException | null, directBytes?: number) => void) => void;

/** Where the built module is: beside the bundles (app/native), or app/native of the repository when run from source. */
function candidates(): string[] {
  const here = typeof __dirname === 'string' ? __dirname : process.cwd();
  return [join(here, '..', 'native', 'blob-write.node'), join(here, '..', '..', 'app', 'native', 'blob-write.node')];
}

let loaded: WriteBlob | null | undefined;

/**
 * The one-task blob write (server/native, built by `npm run build` on Linux), or undefined when it is not built, not
 * loadable, or turned off with PARADIM_NATIVE_BLOB=off: the store then writes blobs in JavaScript.
 */
export function nativeWriteBlob(): WriteBlob | undefined {
  if (loaded !== undefined) return loaded ?? undefined;
  loaded = null;
  if (process.platform !== 'linux' || process.env.PARADIM_NATIVE_BLOB === 'off') return undefined;
  const path = candidates().find((candidate) => existsSync(candidate));
  if (path === undefined) return undefined;
  try {
    const module = createRequire(path)(path) as { writeBlob?: WriteBlob };
    if (typeof module.writeBlob === 'function') loaded = module.writeBlob;
  } catch {
    // A module built for another platform or damaged: write in JavaScript.
  }
  return loaded ?? undefined;
}
