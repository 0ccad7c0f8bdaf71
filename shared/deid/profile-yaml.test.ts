import { describe, expect, it } from 'vitest';
import { isAppError } from '../errors/app-error.js';
import { parseDeidProfile } from './profile.js';
import { parseProfileYaml } from './profile-yaml.js';

const profile = `---
# Brain tumour study, version 3
name: Brain tumour study
version: "3"
pseudonymFormat: BT-#####   # five digits
options:
  retainLongitudinalModifiedDates: true
  cleanDescriptors: yes-not-a-boolean
dateShift: {minDays: -100, maxDays: -10}
overrides:
  - tag: (0008,1030)
    action: keep
  - {tag: "(0010,0040)", action: replace, value: 'O'}
safePrivate:
- creator: GEMS_ACQU_01
  elements: [10, "2B"]
sopClasses:
  drop: []
  quarantine:
    - 1.2.840.10008.5.1.4.1.1.7
pixelMasks:
  - modality: US
    rectangles:
      - {x: 0, y: 0, width: 640, height: 40}
`;

describe('parseProfileYaml', () => {
  it('parses mappings, sequences, flow collections, quoted and plain scalars and comments', () => {
    const value = parseProfileYaml(profile) as Record<string, unknown>;
    expect(value.name).toBe('Brain tumour study');
    expect(value.version).toBe('3');
    expect(value.pseudonymFormat).toBe('BT-#####');
    expect(value.options).toEqual({ retainLongitudinalModifiedDates: true, cleanDescriptors: 'yes-not-a-boolean' });
    expect(value.dateShift).toEqual({ minDays: -100, maxDays: -10 });
    expect(value.overrides).toEqual([
      { tag: '(0008,1030)', action: 'keep' },
      { tag: '(0010,0040)', action: 'replace', value: 'O' },
    ]);
    expect(value.safePrivate).toEqual([{ creator: 'GEMS_ACQU_01', elements: [10, '2B'] }]);
    expect(value.sopClasses).toEqual({ drop: [], quarantine: ['1.2.840.10008.5.1.4.1.1.7'] });
    expect(value.pixelMasks).toEqual([{ modality: 'US', rectangles: [{ x: 0, y: 0, width: 640, height: 40 }] }]);
  });

  it('feeds the same validation as JSON profiles', () => {
    const ok = parseDeidProfile(parseProfileYaml('name: Study\noptions:\n  retainUids: true\n'));
    expect(ok.options.retainUids).toBe(true);
    expect(() => parseDeidProfile(parseProfileYaml(profile))).toThrow();
  });

  it.each([
    ['anchors', 'a: &x 1\nb: *x\n', /unsupported YAML syntax/],
    ['block scalars', 'a: |\n  text\n', /unsupported YAML syntax/],
    ['duplicate keys', 'a: 1\na: 2\n', /duplicate key/],
    ['two documents', 'a: 1\n---\nb: 2\n', /only one YAML document/],
    ['bad indentation', 'a:\n    b: 1\n  c: 2\n', /unexpected indentation|expected/],
  ])('refuses %s with the line number', (_name, text, pattern) => {
    try {
      parseProfileYaml(text);
    } catch (error) {
      expect(isAppError(error) && error.code).toBe('DEID_PROFILE_INVALID');
      if (isAppError(error)) expect(`${error.details[0]?.path}: ${error.details[0]?.issue}`).toMatch(/^line \d+: /);
      if (isAppError(error)) expect(error.details[0]?.issue).toMatch(pattern);
      return;
    }
    throw new Error('expected an error');
  });
});
