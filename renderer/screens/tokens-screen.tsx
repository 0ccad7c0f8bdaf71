import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { tokenPermissions, type TokenPermission } from '../../shared/domain/access.js';
import { tokenExpiryChoices, type AlbumSummary, type TokenInfo } from '../../shared/ipc/contract.js';
import type { ParadimClient } from '../ipc/client.js';
import { useErrorMessage } from '../use-error-message.js';
import { ErrorText } from './error-text.js';

const expiryLabels: Record<(typeof tokenExpiryChoices)[number], string> = {
  '1d': '1 day',
  '7d': '7 days',
  '30d': '30 days',
  '90d': '90 days',
  '365d': '1 year',
};

function when(value: string | null): string {
  return value === null ? '—' : new Date(value).toLocaleString();
}

export function TokensScreen({ client }: { readonly client: ParadimClient }): React.JSX.Element {
  const [tokens, setTokens] = useState<TokenInfo[] | null>(null);
  const [albums, setAlbums] = useState<AlbumSummary[]>([]);
  const [error, report, clear] = useErrorMessage();
  const reload = useCallback(() => {
    client.call('tokens.list', {}).then(setTokens, report);
  }, [client, report]);
  useEffect(() => {
    reload();
    client.call('albums.list', {}).then(setAlbums, report);
  }, [client, reload, report]);
  const albumName = (id: string | null): string => (id === null ? 'All my albums' : (albums.find((album) => album.id === id)?.name ?? id));
  const revoke = (token: TokenInfo): void => {
    clear();
    client.call('tokens.revoke', { tokenId: token.id }).then(reload, report);
  };

  return (
    <div className="stack">
      <section className="card" aria-labelledby="tokens-title">
        <h2 id="tokens-title">My access tokens</h2>
        <ErrorText error={error} />
        {tokens === null ? (
          <p className="muted">Loading…</p>
        ) : tokens.length === 0 ? (
          <p className="muted">You have no access tokens.</p>
        ) : (
          <table className="grid">
            <thead>
              <tr>
                <th>Label</th>
                <th>Scope</th>
                <th>Permissions</th>
                <th>Expires</th>
                <th>Last used</th>
                <th>State</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {tokens.map((token) => (
                <tr key={token.id}>
                  <td>{token.label ?? token.id}</td>
                  <td>{albumName(token.albumId)}</td>
                  <td>{token.permissions.join(', ')}</td>
                  <td>{when(token.expiresAt)}</td>
                  <td>{when(token.lastUsedAt)}</td>
                  <td>{token.state}</td>
                  <td>
                    {token.state === 'active' && (
                      <button type="button" className="link danger" onClick={() => revoke(token)}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <NewTokenCard client={client} albums={albums} onCreated={reload} />
    </div>
  );
}

function NewTokenCard(props: { readonly client: ParadimClient; readonly albums: readonly AlbumSummary[]; readonly onCreated: () => void }): React.JSX.Element {
  const { client, albums, onCreated } = props;
  const [label, setLabel] = useState('');
  const [albumId, setAlbumId] = useState<string>('');
  const [permissions, setPermissions] = useState<TokenPermission[]>(['read']);
  const [expiresIn, setExpiresIn] = useState<(typeof tokenExpiryChoices)[number]>('30d');
  const [secret, setSecret] = useState<string | null>(null);
  const [error, report, clear] = useErrorMessage();
  const toggle = (permission: TokenPermission, on: boolean): void =>
    setPermissions((current) => (on ? [...new Set([...current, permission])] : current.filter((p) => p !== permission)));
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    clear();
    setSecret(null);
    client
      .call('tokens.create', { albumId: albumId === '' ? null : albumId, permissions, expiresIn, label: label.trim() === '' ? null : label })
      .then((created) => {
        setSecret(created.secret);
        setLabel('');
        onCreated();
      }, report);
  };
  return (
    <section className="card" aria-labelledby="new-token-title">
      <h2 id="new-token-title">New access token</h2>
      <form onSubmit={submit} noValidate>
        <label htmlFor="token-label">Label</label>
        <input id="token-label" value={label} onChange={(event) => setLabel(event.target.value)} placeholder="e.g. Slicer on my laptop" />
        <label htmlFor="token-album">Scope</label>
        <select id="token-album" value={albumId} onChange={(event) => setAlbumId(event.target.value)}>
          <option value="">All my albums</option>
          {albums.map((album) => (
            <option key={album.id} value={album.id}>
              {album.name}
            </option>
          ))}
        </select>
        <fieldset>
          <legend>Permissions</legend>
          {tokenPermissions.map((permission) => (
            <label key={permission} className="inline">
              <input type="checkbox" checked={permissions.includes(permission)} onChange={(event) => toggle(permission, event.target.checked)} /> {permission}
            </label>
          ))}
        </fieldset>
        <label htmlFor="token-expiry">Expires after</label>
        <select id="token-expiry" value={expiresIn} onChange={(event) => setExpiresIn(event.target.value as (typeof tokenExpiryChoices)[number])}>
          {tokenExpiryChoices.map((choice) => (
            <option key={choice} value={choice}>
              {expiryLabels[choice]}
            </option>
          ))}
        </select>
        <ErrorText error={error} />
        <button type="submit">Create token</button>
      </form>
      {secret !== null && (
        <div className="secret" role="status">
          <p>Copy this token now: it is shown only once.</p>
          <code data-testid="new-token-secret">{secret}</code>
        </div>
      )}
    </section>
  );
}
