import { useState, type FormEvent } from 'react';
import type { Session } from '../../shared/ipc/contract.js';
import type { ParadimClient } from '../ipc/client.js';
import { useErrorMessage } from '../use-error-message.js';
import { ErrorText } from './error-text.js';

export function SignInCard(props: { readonly client: ParadimClient; readonly session: Session; readonly signInUrl: string | null }): React.JSX.Element {
  const { client, session, signInUrl } = props;
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState<'token' | 'sso' | null>(null);
  const [error, report, clear] = useErrorMessage();

  const withToken = (event: FormEvent): void => {
    event.preventDefault();
    clear();
    setBusy('token');
    client
      .call('session.signInWithToken', { token })
      .then(() => setToken(''), report)
      .finally(() => setBusy(null));
  };
  const withSso = (): void => {
    clear();
    setBusy('sso');
    client
      .call('session.signInWithSso', {})
      .catch(report)
      .finally(() => setBusy(null));
  };

  return (
    <section className="card sign-in" aria-labelledby="sign-in-title">
      <h2 id="sign-in-title">Sign in to the companion server</h2>
      <p className="muted">{session.serverUrl ?? 'No server configured'}</p>
      {session.ssoAvailable && (
        <button type="button" onClick={withSso} disabled={busy !== null}>
          {busy === 'sso' ? 'Waiting for the sign-in page…' : 'Sign in with hospital account'}
        </button>
      )}
      {busy === 'sso' && signInUrl !== null && (
        <p className="muted">
          The sign-in page opens in a new tab. If it did not,{' '}
          <a href={signInUrl} target="_blank" rel="noopener noreferrer">
            open it here
          </a>
          .
        </p>
      )}
      <form onSubmit={withToken} noValidate>
        <label htmlFor="access-token">Access token</label>
        <input
          id="access-token"
          type="password"
          autoComplete="off"
          placeholder="pdw_…"
          value={token}
          onChange={(event) => setToken(event.target.value)}
        />
        <button type="submit" disabled={busy !== null || token.trim() === ''}>
          {busy === 'token' ? 'Signing in…' : 'Sign in with token'}
        </button>
      </form>
      <ErrorText error={error} />
    </section>
  );
}
