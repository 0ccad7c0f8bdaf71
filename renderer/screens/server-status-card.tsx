import { useState } from 'react';
import type { ServerStatus } from '../../shared/ipc/contract.js';
import type { ParadimClient } from '../ipc/client.js';
import { useErrorMessage } from '../use-error-message.js';
import { ErrorText } from './error-text.js';

const stateLabel: Record<ServerStatus['state'], string> = { unknown: 'Checking…', online: 'Online', offline: 'Offline' };

export function ServerStatusCard(props: {
  readonly client: ParadimClient;
  readonly status: ServerStatus | null;
  readonly onStatus: (status: ServerStatus) => void;
}): React.JSX.Element {
  const { client, status, onStatus } = props;
  const [busy, setBusy] = useState(false);
  const [error, report, clear] = useErrorMessage();
  const check = (): void => {
    setBusy(true);
    clear();
    client
      .call('server.checkNow', {})
      .then(onStatus, report)
      .finally(() => setBusy(false));
  };
  const state = status?.state ?? 'unknown';
  return (
    <section className="card" aria-labelledby="server-title">
      <h2 id="server-title">Companion server</h2>
      <p className={`status status-${state}`} data-testid="server-state">
        <span className="dot" aria-hidden="true" />
        {stateLabel[state]}
        {status?.serverVersion != null && ` · version ${status.serverVersion}`}
      </p>
      <dl className="facts">
        <dt>Address</dt>
        <dd>{status?.url ?? 'not configured'}</dd>
        {status?.reason != null && (
          <>
            <dt>Why</dt>
            <dd>{status.reason}</dd>
          </>
        )}
        {status?.checkedAt != null && (
          <>
            <dt>Checked</dt>
            <dd>{new Date(status.checkedAt).toLocaleTimeString()}</dd>
          </>
        )}
      </dl>
      <ErrorText error={error} />
      <button type="button" onClick={check} disabled={busy}>
        {busy ? 'Checking…' : 'Check now'}
      </button>
    </section>
  );
}
