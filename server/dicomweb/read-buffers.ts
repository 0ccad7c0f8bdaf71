/**
 * Reusable read buffers for WADO-RS retrieval. Reading each instance into a fresh allocation costs a page fault per
 * 4 KiB the first time the kernel fills it (and, on virtual machines that hand free memory back to the host, a host
 * fault too): about as much CPU as the copy itself. A response leases blocks from this pool for its reads and gives
 * them back when it is over and its reads have settled, so the same memory serves request after request.
 */
const BLOCK_BYTES = 1024 * 1024;
/** At most this many idle blocks are kept (64 MiB); beyond, blocks are left to the garbage collector. */
const MAX_IDLE = 64;

const idle: Buffer[] = [];

export class ReadLease {
  private readonly blocks: Buffer[] = [];
  private readonly reads: Promise<unknown>[] = [];
  private released = false;

  /** A buffer of `length` bytes for one read: a pooled block when it fits one, else a plain allocation. */
  take(length: number): Buffer | undefined {
    if (this.released || length > BLOCK_BYTES) return undefined;
    const block = idle.pop() ?? Buffer.allocUnsafeSlow(BLOCK_BYTES);
    this.blocks.push(block);
    return block.subarray(0, length);
  }

  /** A read that writes into a taken buffer: the blocks go back only once it has settled. */
  track(read: Promise<unknown>): void {
    this.reads.push(read);
  }

  /** Gives the blocks back after every tracked read has settled (a read still running could write into them). */
  release(): void {
    if (this.released) return;
    this.released = true;
    void Promise.allSettled(this.reads).then(() => {
      for (const block of this.blocks) if (idle.length < MAX_IDLE) idle.push(block);
      this.blocks.length = 0;
    });
  }
}
