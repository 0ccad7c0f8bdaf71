import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** Copies `length` bytes at `inOffset` of one file to `outOffset` of another, in the kernel; returns the bytes copied. */
export type CopyRange = (inFd: number, inOffset: number, outFd: number, outOffset: number, length: number) => number;

/** Where the built module is: beside the bundles (app/native), or app/native of the repository when run from source. */
function candidates(): string[] {
  const here = typeof __dirname === 'string' ? __dirname : process.cwd();
  return [join(here, '..', 'native', 'copy-range.node'), join(here, '..', '..', 'app', 'native', 'copy-range.node')];
}

let loaded: CopyRange | null | undefined;

/**
 * The kernel-side range copy (Linux copy_file_range, built by `npm run build` from main/native), or undefined when it
 * is not built, not loadable, or turned off with PARADIM_NATIVE_COPY=off: the caller then copies in JavaScript.
 */
export function nativeCopyRange(): CopyRange | undefined {
  if (loaded !== undefined) return loaded ?? undefined;
  loaded = null;
  if (process.platform !== 'linux' || process.env.PARADIM_NATIVE_COPY === 'off') return undefined;
  const path = candidates().find((candidate) => existsSync(candidate));
  if (path === undefined) return undefined;
  try {
    const module = createRequire(path)(path) as { copyRange?: CopyRange };
    if (typeof module.copyRange === 'function') loaded = module.copyRange;
  } catch {
    // A module built for another platform or damaged: copy in JavaScript.
  }
  return loaded ?? undefined;
}
