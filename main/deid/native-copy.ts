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

/** Starts writing a file's dirty pages to the device without waiting (advisory); false when the kernel refused. */
export type StartWriteback = (fd: number) => boolean;

interface NativeCopyModule {
  copyRange?: CopyRange;
  startWriteback?: StartWriteback;
}

let loaded: NativeCopyModule | null | undefined;

function nativeModule(): NativeCopyModule | undefined {
  if (loaded !== undefined) return loaded ?? undefined;
  loaded = null;
  if (process.platform !== 'linux' || process.env.PARADIM_NATIVE_COPY === 'off') return undefined;
  const path = candidates().find((candidate) => existsSync(candidate));
  if (path === undefined) return undefined;
  try {
    loaded = createRequire(path)(path) as NativeCopyModule;
  } catch {
    // A module built for another platform or damaged: copy in JavaScript.
  }
  return loaded ?? undefined;
}

/**
 * The kernel-side range copy (Linux copy_file_range, built by `npm run build` from main/native), or undefined when it
 * is not built, not loadable, or turned off with PARADIM_NATIVE_COPY=off: the caller then copies in JavaScript.
 */
export function nativeCopyRange(): CopyRange | undefined {
  const copyRange = nativeModule()?.copyRange;
  return typeof copyRange === 'function' ? copyRange : undefined;
}

/**
 * Early writeback (Linux sync_file_range, same module), or undefined without the module: files written for a later
 * group flush start going to the device at once (PARADIM_EARLY_WRITEBACK=off turns it off).
 */
export function nativeStartWriteback(): StartWriteback | undefined {
  if (process.env.PARADIM_EARLY_WRITEBACK === 'off') return undefined;
  const startWriteback = nativeModule()?.startWriteback;
  return typeof startWriteback === 'function' ? startWriteback : undefined;
}
