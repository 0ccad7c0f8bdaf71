import { useEffect, useState, type FormEvent } from 'react';
import { AppError } from '../../shared/errors/app-error.js';
import { isErrorCode } from '../../shared/errors/error-table.js';
import type { AlbumSummary, ImportPreview, ImportProfile, ImportProfileRef, ImportScan, ImportSummary, TaskProgress } from '../../shared/ipc/contract.js';
import type { ParadimClient } from '../ipc/client.js';
import { useErrorMessage } from '../use-error-message.js';
import { ErrorText } from './error-text.js';

type Step = 'source' | 'review' | 'running' | 'summary';

function megabytes(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MB`;
}

/** ` · 42.0 MB/s · about 1 min left`, from the progress so far. */
function rateAndEta(progress: TaskProgress, startedAt: number | null): string {
  if (startedAt === null || progress.done === 0) return '';
  const seconds = Math.max((Date.now() - startedAt) / 1000, 0.001);
  const rate = progress.bytesDone / 1_048_576 / seconds;
  if (progress.total === null || progress.total <= progress.done) return ` · ${rate.toFixed(1)} MB/s`;
  const left = ((progress.total - progress.done) * seconds) / progress.done;
  const eta = left < 60 ? `${Math.ceil(left)} s` : `${Math.ceil(left / 60)} min`;
  return ` · ${rate.toFixed(1)} MB/s · about ${eta} left`;
}

/**
 * Import and de-identify: source folder → scan (progress) → grouped by patient/study/series → profile → preview of a
 * sample → de-identify (progress, cancel) → summary (done, quarantined, failed, each with its reason).
 */
export function ImportScreen({ client }: { readonly client: ParadimClient }): React.JSX.Element {
  const [step, setStep] = useState<Step>('source');
  const [folder, setFolder] = useState('');
  const [scan, setScan] = useState<ImportScan | null>(null);
  const [profiles, setProfiles] = useState<ImportProfile[]>([]);
  const [profileId, setProfileId] = useState<ImportProfile['id'] | 'file'>('basic');
  const [profileFile, setProfileFile] = useState('');
  const [startedAt, setStartedAt] = useState<number | null>(null);
  const profileRef = (): ImportProfileRef => (profileId === 'file' ? { file: profileFile } : { builtin: profileId });
  const [preview, setPreview] = useState<ImportPreview | null>(null);
  const [output, setOutput] = useState('');
  const [progress, setProgress] = useState<TaskProgress | null>(null);
  const [taskId, setTaskId] = useState<string | null>(null);
  const [summary, setSummary] = useState<ImportSummary | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, report, clear] = useErrorMessage();

  useEffect(() => {
    client.call('import.profiles', {}).then(setProfiles, report);
    const offProgress = client.on('task.progress', setProgress);
    const offFinished = client.on('import.finished', (result) => {
      if ('error' in result) {
        report(new AppError(isErrorCode(result.error.code) ? result.error.code : 'INTERNAL', result.error.details));
        setStep('review');
        return;
      }
      setSummary(result);
      setStep('summary');
    });
    return () => {
      offProgress();
      offFinished();
    };
  }, [client, report]);

  const runScan = (event: FormEvent): void => {
    event.preventDefault();
    clear();
    setBusy(true);
    setScan(null);
    setPreview(null);
    client
      .call('import.scan', { folder })
      .then((result) => {
        setScan(result);
        setOutput(`${result.folder.replace(/[\\/]+$/, '')}-deidentified`);
        setStep('review');
      }, report)
      .finally(() => setBusy(false));
  };

  const runPreview = (): void => {
    if (scan?.sampleFile == null) return;
    clear();
    client.call('import.preview', { folder: scan.folder, file: scan.sampleFile, profile: profileRef() }).then(setPreview, report);
  };

  const start = (): void => {
    if (scan === null) return;
    clear();
    setSummary(null);
    setProgress(null);
    client.call('import.start', { folder: scan.folder, output, profile: profileRef() }).then(({ taskId: id }) => {
      setTaskId(id);
      setStartedAt(Date.now());
      setStep('running');
    }, report);
  };

  const cancel = (): void => {
    if (taskId !== null) client.call('import.cancel', { taskId }).catch(report);
  };

  return (
    <div className="stack">
      <section className="card" aria-labelledby="import-title">
        <h2 id="import-title">Import and de-identify</h2>
        <form onSubmit={runScan} noValidate className="inline-form">
          <label htmlFor="import-folder">Folder or CD to import</label>
          <div className="row">
            <input id="import-folder" value={folder} onChange={(event) => setFolder(event.target.value)} placeholder="/media/cdrom or a folder path" />
            <button type="submit" disabled={busy || folder.trim() === ''}>
              {busy ? 'Reading…' : 'Scan'}
            </button>
          </div>
        </form>
        {busy && progress !== null && progress.state === 'running' && (
          <p className="muted" role="status">
            {progress.done} files read · {megabytes(progress.bytesDone)}
          </p>
        )}
        <ErrorText error={error} />
      </section>

      {scan !== null && step !== 'source' && (
        <section className="card" aria-labelledby="scan-title">
          <h2 id="scan-title">What was found</h2>
          <p className="muted" data-testid="scan-totals">
            {scan.dicomFiles} DICOM files of {scan.files} · {megabytes(scan.bytes)} · {scan.patients.length} patient(s)
            {scan.unreadableCount > 0 && ` · ${scan.unreadableCount} unreadable`}
          </p>
          <table className="grid">
            <thead>
              <tr>
                <th>Patient</th>
                <th>Study</th>
                <th>Series</th>
                <th>Modality</th>
                <th>Files</th>
                <th>Risk</th>
              </tr>
            </thead>
            <tbody>
              {scan.patients.flatMap((patient) =>
                patient.studies.flatMap((study) =>
                  study.series.map((series) => (
                    <tr key={`${study.studyInstanceUID}/${series.seriesInstanceUID}`}>
                      <td>
                        {patient.patientName || '(no name)'} · {patient.patientId || '(no ID)'}
                      </td>
                      <td>
                        {study.studyDate} {study.studyDescription}
                      </td>
                      <td>{series.seriesDescription || series.seriesInstanceUID.slice(-12)}</td>
                      <td>{series.modality}</td>
                      <td>{series.files}</td>
                      <td>{series.burnedInAnnotation ? 'Burned-in text: will be quarantined' : '—'}</td>
                    </tr>
                  )),
                ),
              )}
            </tbody>
          </table>
          {scan.unreadable.length > 0 && (
            <details>
              <summary>Files that are not DICOM or cannot be read ({scan.unreadableCount})</summary>
              <ul>
                {scan.unreadable.map((item) => (
                  <li key={item.path}>
                    {item.path}: {item.reason}
                  </li>
                ))}
              </ul>
            </details>
          )}
        </section>
      )}

      {scan !== null && step === 'review' && (
        <section className="card" aria-labelledby="profile-title">
          <h2 id="profile-title">Profile</h2>
          <fieldset className="column">
            <legend>De-identification profile</legend>
            {profiles.map((profile) => (
              <label key={profile.id} className="inline">
                <input type="radio" name="profile" checked={profileId === profile.id} onChange={() => (setProfileId(profile.id), setPreview(null))} />
                <span>
                  <strong>{profile.name}</strong> — {profile.description}
                </span>
              </label>
            ))}
            <label className="inline">
              <input type="radio" name="profile" checked={profileId === 'file'} onChange={() => (setProfileId('file'), setPreview(null))} />
              <span>
                <strong>Project profile file</strong> — a JSON or YAML profile agreed with the ethics board
              </span>
            </label>
            {profileId === 'file' && (
              <input aria-label="Profile file" value={profileFile} onChange={(event) => setProfileFile(event.target.value)} placeholder="/path/to/project-profile.yaml" />
            )}
          </fieldset>
          <div className="row">
            <button type="button" onClick={runPreview} disabled={scan.sampleFile === null}>
              Preview a sample
            </button>
          </div>
          {preview !== null && (
            <div data-testid="preview">
              <p className="muted">
                {preview.file} · {preview.status}
                {preview.reason !== null && `: ${preview.reason}`} · profile {preview.profile.name} v{preview.profile.version}
              </p>
              <table className="grid">
                <thead>
                  <tr>
                    <th>Attribute</th>
                    <th>Before</th>
                    <th>After</th>
                    <th>Action</th>
                  </tr>
                </thead>
                <tbody>
                  {preview.rows.map((row) => (
                    <tr key={row.tag}>
                      <td>
                        {row.keyword || row.tag} <span className="muted">{row.tag}</span>
                      </td>
                      <td>{row.before}</td>
                      <td>{row.after}</td>
                      <td>{row.action}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <label htmlFor="import-output">Write de-identified files to</label>
          <input id="import-output" value={output} onChange={(event) => setOutput(event.target.value)} />
          <p className="muted">Reports go beside it, in “{output}-reports”; the re-identification map stays sealed on this workstation.</p>
          <button type="button" onClick={start} disabled={output.trim() === ''}>
            De-identify
          </button>
        </section>
      )}

      {step === 'running' && (
        <section className="card" aria-labelledby="running-title">
          <h2 id="running-title">De-identifying</h2>
          {progress !== null && progress.taskId === taskId && (
            <>
              <progress max={progress.total ?? 1} value={progress.done} />
              <p className="muted" role="status">
                {progress.done} / {progress.total ?? '?'} files · {megabytes(progress.bytesDone)}
                {rateAndEta(progress, startedAt)}
              </p>
            </>
          )}
          <button type="button" className="danger" onClick={cancel}>
            Cancel
          </button>
        </section>
      )}

      {step === 'summary' && summary !== null && (
        <section className="card" aria-labelledby="summary-title">
          <h2 id="summary-title">{summary.cancelled ? 'Import cancelled' : 'Import finished'}</h2>
          <dl className="facts" data-testid="import-summary">
            <dt>De-identified</dt>
            <dd>{summary.counts.deidentified ?? 0}</dd>
            <dt>Quarantined</dt>
            <dd>{summary.counts.quarantined ?? 0}</dd>
            <dt>Dropped by the profile</dt>
            <dd>{summary.counts.dropped ?? 0}</dd>
            <dt>Failed</dt>
            <dd>{summary.counts.failed ?? 0}</dd>
            <dt>Output</dt>
            <dd>{summary.output}</dd>
            <dt>Reports</dt>
            <dd>{summary.reportsDir}</dd>
            <dt>Profile</dt>
            <dd>
              {summary.profile.name} v{summary.profile.version} · {summary.profile.digest.slice(0, 19)}…
            </dd>
          </dl>
          {summary.problems.length > 0 && (
            <table className="grid">
              <thead>
                <tr>
                  <th>File</th>
                  <th>Outcome</th>
                  <th>Reason</th>
                </tr>
              </thead>
              <tbody>
                {summary.problems.map((problem) => (
                  <tr key={problem.input}>
                    <td>{problem.input}</td>
                    <td>{problem.status}</td>
                    <td>{problem.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <PushToAlbum client={client} folder={summary.output} />
          <MapExport client={client} profile={profileRef()} defaultPath={`${summary.output}-reid-map.sealed`} />
          <button type="button" onClick={() => setStep('review')}>
            Back
          </button>
        </section>
      )}
    </div>
  );
}

/** The steward's export of the re-identification map: sealed with their passphrase, written where they say. */
function MapExport(props: { readonly client: ParadimClient; readonly profile: ImportProfileRef; readonly defaultPath: string }): React.JSX.Element {
  const [destination, setDestination] = useState(props.defaultPath);
  const [passphrase, setPassphrase] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const [error, report, clear] = useErrorMessage();
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    clear();
    setDone(null);
    props.client.call('import.exportMap', { profile: props.profile, destination, passphrase }).then(({ patients }) => {
      setPassphrase('');
      setDone(`Exported the map of ${patients} patient(s) to ${destination}. Keep it with the passphrase, apart from the data.`);
    }, report);
  };
  return (
    <details>
      <summary>Export the re-identification map</summary>
      <form onSubmit={submit} noValidate>
        <label htmlFor="map-destination">Write it to</label>
        <input id="map-destination" value={destination} onChange={(event) => setDestination(event.target.value)} />
        <label htmlFor="map-passphrase">Passphrase (12 characters or more)</label>
        <input id="map-passphrase" type="password" autoComplete="new-password" value={passphrase} onChange={(event) => setPassphrase(event.target.value)} />
        <ErrorText error={error} />
        {done !== null && <p className="field-ok">{done}</p>}
        <button type="submit">Export</button>
      </form>
    </details>
  );
}

/** Sends the de-identified output to an album of the companion server (its album-scoped DICOMweb root). */
function PushToAlbum({ client, folder }: { readonly client: ParadimClient; readonly folder: string }): React.JSX.Element {
  const [albums, setAlbums] = useState<AlbumSummary[] | null>(null);
  const [albumId, setAlbumId] = useState('');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ stored: number; failed: ReadonlyArray<{ file: string; reason: string }> } | null>(null);
  const [error, report, clear] = useErrorMessage();
  useEffect(() => {
    client.call('albums.list', {}).then((list) => {
      setAlbums(list);
      setAlbumId(list[0]?.id ?? '');
    }, report);
  }, [client, report]);
  const push = (): void => {
    clear();
    setBusy(true);
    setResult(null);
    client
      .call('import.push', { folder, albumId })
      .then(setResult, report)
      .finally(() => setBusy(false));
  };
  return (
    <div className="push">
      <h3>Push to an album</h3>
      {albums !== null && albums.length === 0 && <p className="muted">You are not a member of any album yet.</p>}
      {albums !== null && albums.length > 0 && (
        <div className="row">
          <select aria-label="Album" value={albumId} onChange={(event) => setAlbumId(event.target.value)}>
            {albums.map((album) => (
              <option key={album.id} value={album.id}>
                {album.name}
              </option>
            ))}
          </select>
          <button type="button" onClick={push} disabled={busy || albumId === ''}>
            {busy ? 'Pushing…' : 'Push'}
          </button>
        </div>
      )}
      <ErrorText error={error} />
      {result !== null && (
        <p className={result.failed.length === 0 ? 'field-ok' : 'field-error'} role="status" data-testid="push-result">
          {result.stored} instance(s) added to the album
          {result.failed.length > 0 && `; ${result.failed.length} refused: ${result.failed.map((f) => `${f.file} (${f.reason})`).join('; ')}`}
        </p>
      )}
    </div>
  );
}
