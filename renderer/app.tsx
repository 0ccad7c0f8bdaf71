import { useEffect, useState } from 'react';
import type { AppInfo, ServerStatus } from '../shared/ipc/contract.js';
import type { ParadimClient } from './ipc/client.js';
import { AlbumsScreen } from './screens/albums-screen.js';
import { ImportScreen } from './screens/import-screen.js';
import { ServerStatusCard } from './screens/server-status-card.js';
import { SettingsCard } from './screens/settings-card.js';
import { SignInCard } from './screens/sign-in-card.js';
import { TokensScreen } from './screens/tokens-screen.js';
import { useErrorMessage } from './use-error-message.js';
import { useSession } from './use-session.js';

type Screen = 'home' | 'import' | 'albums' | 'tokens';
const screens: ReadonlyArray<readonly [Screen, string]> = [
  ['home', 'Home'],
  ['import', 'Import'],
  ['albums', 'Albums'],
  ['tokens', 'Access tokens'],
];

export function App({ client }: { readonly client: ParadimClient }): React.JSX.Element {
  const [info, setInfo] = useState<AppInfo | null>(null);
  const [status, setStatus] = useState<ServerStatus | null>(null);
  const [screen, setScreen] = useState<Screen>('home');
  const [error, report] = useErrorMessage();
  const { session, signInUrl } = useSession(client, report);

  useEffect(() => {
    const off = client.on('server.status', setStatus);
    client.call('app.getInfo', {}).then(setInfo, report);
    client.call('server.getStatus', {}).then(setStatus, report);
    return off;
  }, [client, report]);

  const signedIn = session?.state === 'signed-in';
  return (
    <div className="shell">
      <header className="topbar">
        <div className="brand">
          <img src="./icon.svg" alt="" width={28} height={28} />
          <span>PARADIM Workstation</span>
        </div>
        <nav className="tabs" aria-label="Main">
          {screens.map(([id, label]) => (
            <button key={id} type="button" className={screen === id ? 'tab active' : 'tab'} aria-current={screen === id ? 'page' : undefined} onClick={() => setScreen(id)}>
              {label}
            </button>
          ))}
        </nav>
        <div className="account" data-testid="account">
          {signedIn && session.user !== null ? (
            <>
              <span>{session.user.name ?? session.user.email ?? 'Signed in'}</span>
              <button type="button" className="link" onClick={() => void client.call('session.signOut', {}).catch(report)}>
                Sign out
              </button>
            </>
          ) : (
            <span className="muted">Not signed in</span>
          )}
        </div>
      </header>
      <main className="content">
        {error !== null && (
          <div className="banner error" role="alert">
            {error}
          </div>
        )}
        {screen === 'home' && (
          <>
            <section className="intro">
              <h1>Welcome</h1>
              <p>
                View, segment and annotate studies from your research albums, and de-identify studies locally before they
                leave the hospital. Everything you save records who, when and how.
              </p>
            </section>
            <div className="cards">
              <ServerStatusCard client={client} status={status} onStatus={setStatus} />
              {session !== null && !signedIn && <SignInCard client={client} session={session} signInUrl={signInUrl} />}
              <SettingsCard client={client} />
            </div>
          </>
        )}
        {/* De-identification is local: it needs no server and no sign-in. */}
        {screen === 'import' && <ImportScreen client={client} />}
        {(screen === 'albums' || screen === 'tokens') && session !== null && !signedIn && <SignInCard client={client} session={session} signInUrl={signInUrl} />}
        {screen === 'albums' && signedIn && <AlbumsScreen client={client} />}
        {screen === 'tokens' && signedIn && <TokensScreen client={client} />}
      </main>
      <footer className="statusbar" data-testid="app-meta">
        {info === null ? 'Connecting…' : `Version ${info.version} · ${info.shell === 'electron' ? 'Desktop app' : 'Browser shell'} · ${info.platform}`}
      </footer>
    </div>
  );
}
