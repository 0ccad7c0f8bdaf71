import { readdir } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import { AppError, isAppError } from '../../shared/errors/app-error.js';
import type { ImportScan } from '../../shared/ipc/contract.js';
import { readHeader, textOf } from './read-header.js';

const mediaDirectoryClass = '1.2.840.10008.1.3.10';

async function* walk(root: string, dir = root): AsyncGenerator<string> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(root, path);
    else if (entry.isFile()) yield path;
  }
}

/**
 * Reads the headers of every file below a folder (any names, DICOMDIR recognised) and groups the DICOM files by
 * patient, study and series for the steward to check before de-identifying. Values are shown locally, never logged.
 */
export async function scanFolder(folder: string, onProgress: (files: number, bytes: number) => void, signal?: AbortSignal): Promise<ImportScan> {
  const patients = new Map<string, { patientId: string; patientName: string; studies: Map<string, ImportScan['patients'][number]['studies'][number]> }>();
  const unreadable: ImportScan['unreadable'][number][] = [];
  let files = 0;
  let dicomFiles = 0;
  let directories = 0;
  let bytes = 0;
  let sampleFile: string | null = null;
  try {
    for await (const path of walk(folder)) {
      if (signal?.aborted === true) throw new AppError('CANCELLED');
      files += 1;
      const rel = relative(folder, path).split(sep).join('/');
      let header;
      try {
        header = readHeader(path);
      } catch (error) {
        unreadable.push({ path: rel, reason: isAppError(error) ? error.details.map((d) => `${d.path}: ${d.issue}`).join('; ') || error.message : 'cannot be read' });
        continue;
      } finally {
        if (files % 50 === 0) onProgress(files, bytes);
      }
      bytes += header.size;
      const { file } = header;
      if (textOf(file, 'MediaStorageSOPClassUID') === mediaDirectoryClass || basename(path).toUpperCase() === 'DICOMDIR') {
        directories += 1;
        continue;
      }
      dicomFiles += 1;
      sampleFile ??= rel;
      const patientId = textOf(file, 'PatientID');
      const patientName = textOf(file, 'PatientName');
      const patientKey = `${patientId}\u0000${patientName}`;
      let patient = patients.get(patientKey);
      if (patient === undefined) {
        patient = { patientId, patientName, studies: new Map() };
        patients.set(patientKey, patient);
      }
      const studyUid = textOf(file, 'StudyInstanceUID');
      let study = patient.studies.get(studyUid);
      if (study === undefined) {
        study = { studyInstanceUID: studyUid, studyDate: textOf(file, 'StudyDate'), studyDescription: textOf(file, 'StudyDescription'), series: [] };
        patient.studies.set(studyUid, study);
      }
      const seriesUid = textOf(file, 'SeriesInstanceUID');
      let series = study.series.find((s) => s.seriesInstanceUID === seriesUid);
      if (series === undefined) {
        series = { seriesInstanceUID: seriesUid, modality: textOf(file, 'Modality'), seriesDescription: textOf(file, 'SeriesDescription'), files: 0, bytes: 0, burnedInAnnotation: false };
        study.series.push(series);
      }
      series.files += 1;
      series.bytes += header.size;
      if (textOf(file, 'BurnedInAnnotation').toUpperCase() === 'YES') series.burnedInAnnotation = true;
    }
  } catch (error) {
    if (isAppError(error)) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new AppError('INVALID_INPUT', [{ path: folder, issue: code === 'ENOENT' ? 'this folder does not exist' : code === 'ENOTDIR' ? 'this is not a folder' : 'this folder cannot be read' }]);
  }
  onProgress(files, bytes);
  return {
    folder,
    files,
    dicomFiles,
    directories,
    bytes,
    sampleFile,
    unreadable: unreadable.slice(0, 500),
    unreadableCount: unreadable.length,
    patients: [...patients.values()].map((p) => ({ patientId: p.patientId, patientName: p.patientName, studies: [...p.studies.values()] })),
  };
}
