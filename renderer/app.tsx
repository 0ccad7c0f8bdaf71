import { useEffect, useState } from 'react';
import type { AppInfo, ServerStatus } from '../shared/ipc/contract.js';
import type { ParadimClient } from './ipc/client.js';
import { ServerStatusCard } from './screens/server-status-card.js';
import { SettingsCard } from './screens/settings-card.js';
import { useErrorMessage } from './use-error-message.js';

export function App({ client }: { readonly client: ParadimClient }): React.JSX.Element {
  const [info, setInfo] = useState<AppInfo | null>(null);
  const [status, setStatus] = useState<ServerStatus | null>(null);
  const [error, report] = useErrorMessage();

  useEffect(() => {
    const off = client.on('server.status', setStatus);
    client.call('app.getInfo', {}).then(setInfo, report);
    client.call('server.getStatus', {}).then(setStatus, report);
    return off;
  }, [client, report]);

  return (
    <div className="shell">
      <header className="topbar">
        <div className="brand">
          <img src="./icon.svg" alt="" width={28} height={28} />
          <span>PARADIM Workstation</span>
        </div>
        <div className="topbar-meta" data-testid="app-meta">
          {info === null ? 'Connecting…' : `Version ${info.version} · ${info.shell === 'electron' ? 'Desktop app' : 'Browser shell'} · ${info.platform}`}
        </div>
      </header>
      <main className="content">
        <section className="intro">
          <h1>Welcome</h1>
          <p>
            View, segment and annotate studies from your research albums, and de-identify studies locally before they leave
            the hospital. Everything you save records who, when and how.
          </p>
        </section>
        {error !== null && (
          <div className="banner error" role="alert">
            {error}
          </div>
        )}
        <div className="cards">
          <ServerStatusCard client={client} status={status} onStatus={setStatus} />
          <SettingsCard client={client} />
        </div>
      </main>
    </div>
  );
}
