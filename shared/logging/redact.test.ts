import { describe, expect, it } from 'vitest';
import { REDACTED, redactLogValue, redactString } from './redact.js';

describe('redactLogValue', () => {
  it('drops DICOM keyword values, tag keys and DICOM JSON elements at any depth', () => {
    const out = redactLogValue({
      study: { PatientName: 'DOE^JANE', PatientID: '12345', StudyInstanceUID: '1.2.840.113619.2.55.3' },
      dataset: { '00100010': { vr: 'PN', Value: [{ Alphabetic: 'DOE^JANE' }] }, '(0010,0020)': '12345' },
      element: { vr: 'LO', Value: ['12345'] },
      files: 3,
    });
    const text = JSON.stringify(out);
    expect(text).not.toContain('DOE');
    expect(text).not.toContain('12345');
    expect(text).not.toContain('1.2.840.113619');
    expect(out).toMatchObject({ study: { PatientName: REDACTED }, files: 3, element: REDACTED });
  });

  it('drops secrets by key and masks tokens inside strings', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl';
    const out = redactLogValue({
      headers: { authorization: `Bearer ${jwt}`, cookie: 'sid=abc' },
      accessToken: 'pt_live_secret',
      url: `/albums?access_token=${jwt}&limit=5`,
      msg: `upgrade with Bearer abc.def failed; token ${jwt}`,
    });
    const text = JSON.stringify(out);
    expect(text).not.toContain('eyJhbGci');
    expect(text).not.toContain('pt_live_secret');
    expect(text).not.toContain('sid=abc');
    expect(text).not.toContain('abc.def');
    expect(text).toContain('limit=5');
  });

  it('keeps ordinary camelCase fields, numbers and IP addresses', () => {
    expect(redactLogValue({ port: 8042, host: '127.0.0.1', channel: 'app.getInfo' })).toEqual({
      port: 8042,
      host: '127.0.0.1',
      channel: 'app.getInfo',
    });
  });

  it('masks DICOM UIDs in free text but leaves short version numbers', () => {
    expect(redactString('stored 1.2.840.10008.5.1.4.1.1.2 with v1.2.3')).toBe('stored [uid] with v1.2.3');
  });

  it('survives cycles and redacts error messages', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    expect(redactLogValue(a)).toEqual({ name: 'a', self: '[circular]' });
    const err = redactLogValue(new Error('bad token Bearer xyz')) as { message: string };
    expect(err.message).not.toContain('xyz');
  });
});
