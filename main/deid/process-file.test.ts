import { describe, expect, it } from 'vitest';
import type { FileReport } from '../../shared/deid/engine.js';
import { reportLine } from './process-file.js';

const report = (actions: FileReport['actions']): FileReport => ({
  engine: 'PARADIM deid test',
  standard: 'DICOM PS3.15 2024b Table E.1-1',
  profile: { name: 'P "quoted" \\ name', version: '1', digest: 'sha256:00' },
  status: 'deidentified',
  sopClassUID: '1.2.840.10008.5.1.4.1.1.2',
  modality: 'CT',
  transferSyntax: { input: '1.2.840.10008.1.2.1', output: '1.2.840.10008.1.2.1' },
  methodCodes: ['113100'],
  actions,
  residualPhiCheck: { passed: true, valuesChecked: 3, survivors: [] },
});

describe('reportLine', () => {
  it('gives the same text as JSON.stringify of the whole line, whatever the paths and rules hold', () => {
    const actions: FileReport['actions'] = [
      { path: '(0010,0010)', keyword: 'PatientName', action: 'D', rule: 'basic Z; replaced', oldValueHash: 'hmac:0a' },
      { path: '(0008,1115)[0].(0008,1155)', keyword: 'ReferencedSOPInstanceUID', action: 'U', rule: 'basic U' },
      { path: '(0010,0010)', keyword: 'PatientName', action: 'D', rule: 'basic Z; replaced', oldValueHash: 'hmac:0b' },
      { path: '(0020,4000)', keyword: 'ImageComments', action: 'C', rule: 'rule with "actions":[] and \u2013 dash' },
    ];
    for (const input of ['a/b.dcm', 'weird "actions":[] \\ name', 'é/ü']) {
      for (const output of [undefined, 'x/y.dcm']) {
        const expected = JSON.stringify({ input, output, code: undefined, ...report(actions) });
        expect(reportLine(input, output, undefined, report(actions))).toBe(expected);
        expect(JSON.parse(reportLine(input, output, 'DEID_X', report([])))).toEqual(JSON.parse(JSON.stringify({ input, output, code: 'DEID_X', ...report([]) })));
      }
    }
  });
});
