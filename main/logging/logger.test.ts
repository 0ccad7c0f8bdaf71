import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { lines, stream };
}

describe('workstation logger', () => {
  it('writes no DICOM values and no tokens, whatever the call shape', () => {
    const { lines, stream } = capture();
    const log = createLogger({ name: 'test', level: 'debug', destination: stream });
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkb2UifQ.abcdefgh';
    log.info({ PatientName: 'DOE^JOHN', request: { headers: { authorization: `Bearer ${jwt}` } } }, 'imported');
    log.warn(`token ${jwt} rejected for study 1.2.826.0.1.3680043.8.498.1`);
    log.error({ err: new Error(`failed with Bearer ${jwt}`) }, 'upload failed');
    const text = lines.join('');
    expect(lines).toHaveLength(3);
    expect(text).not.toContain('DOE^JOHN');
    expect(text).not.toContain(jwt);
    expect(text).not.toContain('1.2.826.0.1.3680043.8.498.1');
    expect(text).toContain('imported');
  });
});
