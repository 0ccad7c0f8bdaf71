import { useState, type FormEvent } from 'react';
import type { AlbumSummary, DestructionCertificate } from '../../shared/ipc/contract.js';
import type { ParadimClient } from '../ipc/client.js';
import { useErrorMessage } from '../use-error-message.js';
import { ErrorText } from './error-text.js';

/** Certified destruction at the end of the ethics approval: typed-name confirmation, then the signed certificate. */
export function AlbumDangerZone(props: { readonly client: ParadimClient; readonly album: AlbumSummary; readonly onDestroyed: () => void }): React.JSX.Element {
  const { client, album } = props;
  const [confirmName, setConfirmName] = useState('');
  const [reason, setReason] = useState('End of the ethics approval');
  const [busy, setBusy] = useState(false);
  const [certificate, setCertificate] = useState<DestructionCertificate | null>(null);
  const [error, report, clear] = useErrorMessage();

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    clear();
    setBusy(true);
    client
      .call('albums.destroy', { albumId: album.id, confirmName, reason })
      .then(setCertificate, report)
      .finally(() => setBusy(false));
  };

  if (certificate !== null) {
    return (
      <section className="card" aria-labelledby="certificate-title">
        <h2 id="certificate-title">Destruction certificate</h2>
        <p className={certificate.verification.ok ? 'field-ok' : 'field-error'}>
          {certificate.verification.ok
            ? 'Verified: nothing of this album remains on the server.'
            : `Verification found problems: ${certificate.verification.problems.join('; ')}`}
        </p>
        <dl className="facts">
          <dt>Certificate</dt>
          <dd data-testid="certificate-id">{certificate.certificateId}</dd>
          <dt>Album</dt>
          <dd>
            {certificate.album.name} ({certificate.album.ethicsProtocol ?? 'no protocol number'})
          </dd>
          <dt>Destroyed</dt>
          <dd>{new Date(certificate.destroyedAt).toLocaleString()}</dd>
          <dt>Series</dt>
          <dd>{certificate.totals.series}</dd>
          <dt>Instances</dt>
          <dd>{certificate.totals.instances}</dd>
          <dt>Derived objects</dt>
          <dd>{certificate.series.filter((s) => s.derived).length}</dd>
          <dt>Kept (other albums)</dt>
          <dd>{certificate.retainedSeries.length} series</dd>
          <dt>Storage</dt>
          <dd>
            {certificate.storage.blobs} + {certificate.storage.index}
          </dd>
        </dl>
        <button type="button" onClick={props.onDestroyed}>
          Back to albums
        </button>
      </section>
    );
  }

  return (
    <section className="card danger-zone" aria-labelledby="destroy-title">
      <h2 id="destroy-title">Destroy this album</h2>
      <p className="muted">
        Deletes every image reachable only through this album, with the segmentations and reports derived from them, then
        proves nothing remains and issues a signed certificate. This cannot be undone.
      </p>
      <form onSubmit={submit} noValidate>
        <label htmlFor="destroy-reason">Reason</label>
        <input id="destroy-reason" value={reason} onChange={(event) => setReason(event.target.value)} />
        <label htmlFor="destroy-confirm">Type the album name to confirm: {album.name}</label>
        <input id="destroy-confirm" value={confirmName} onChange={(event) => setConfirmName(event.target.value)} autoComplete="off" />
        <ErrorText error={error} />
        <button type="submit" className="danger" disabled={busy || confirmName !== album.name}>
          {busy ? 'Destroying…' : 'Destroy album'}
        </button>
      </form>
    </section>
  );
}
