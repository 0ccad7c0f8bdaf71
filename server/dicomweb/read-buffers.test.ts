import { describe, expect, it } from 'vitest';
import { ReadLease } from './read-buffers.js';

describe('pooled read buffers', () => {
  it('hands a block out again only after the response that had it is over and its reads have settled', async () => {
    const first = new ReadLease();
    const block = first.take(1000);
    expect(block?.length).toBe(1000);
    let settle: () => void = () => undefined;
    first.track(new Promise<void>((resolve) => (settle = resolve)));
    first.release();
    // A read may still be writing into the block: another response must not get it yet.
    await new Promise((resolve) => setImmediate(resolve));
    const second = new ReadLease();
    const other = second.take(1000);
    expect(other?.buffer === block?.buffer && other?.byteOffset === block?.byteOffset).toBe(false);
    settle();
    await new Promise((resolve) => setImmediate(resolve));
    const third = new ReadLease();
    const reused = third.take(500);
    expect(reused?.buffer === block?.buffer && reused?.byteOffset === block?.byteOffset).toBe(true);
  });

  it('gives nothing out for reads larger than a block, or after release', () => {
    const lease = new ReadLease();
    expect(lease.take(2 * 1024 * 1024)).toBeUndefined();
    lease.release();
    expect(lease.take(10)).toBeUndefined();
  });
});
