import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { AlbumSummary } from '../../shared/ipc/contract.js';
import type { ParadimClient } from '../ipc/client.js';
import { useErrorMessage } from '../use-error-message.js';
import { AlbumMembers } from './album-members.js';
import { ErrorText } from './error-text.js';

function day(value: string | null): string {
  return value === null ? '—' : new Date(value).toLocaleDateString();
}

export function AlbumsScreen({ client }: { readonly client: ParadimClient }): React.JSX.Element {
  const [albums, setAlbums] = useState<AlbumSummary[] | null>(null);
  const [selected, setSelected] = useState<AlbumSummary | null>(null);
  const [error, report, clear] = useErrorMessage();
  const reload = useCallback(() => {
    client.call('albums.list', {}).then(setAlbums, report);
  }, [client, report]);
  useEffect(reload, [reload]);

  if (selected !== null) {
    return (
      <AlbumMembers
        client={client}
        album={selected}
        onBack={() => {
          setSelected(null);
          reload();
        }}
      />
    );
  }
  return (
    <div className="stack">
      <section className="card" aria-labelledby="albums-title">
        <h2 id="albums-title">Albums</h2>
        <ErrorText error={error} />
        {albums === null ? (
          <p className="muted">Loading…</p>
        ) : albums.length === 0 ? (
          <p className="muted">You are not a member of any album yet.</p>
        ) : (
          <table className="grid">
            <thead>
              <tr>
                <th>Name</th>
                <th>Studies</th>
                <th>Series</th>
                <th>Modalities</th>
                <th>Ethics protocol</th>
                <th>Destruction date</th>
                <th>Last event</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {albums.map((album) => (
                <tr key={album.id}>
                  <td>{album.name}</td>
                  <td>{album.studies}</td>
                  <td>{album.series}</td>
                  <td>{album.modalities.join(', ') || '—'}</td>
                  <td>{album.ethicsProtocol ?? '—'}</td>
                  <td>{day(album.destructionDate)}</td>
                  <td>{album.lastEvent === null ? '—' : `${album.lastEvent.type.replace('-', ' ')} · ${day(album.lastEvent.time)}`}</td>
                  <td>
                    <button type="button" className="link" onClick={() => setSelected(album)}>
                      Members
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <NewAlbumCard client={client} onCreated={() => (clear(), reload())} />
    </div>
  );
}

function NewAlbumCard({ client, onCreated }: { readonly client: ParadimClient; readonly onCreated: () => void }): React.JSX.Element {
  const [name, setName] = useState('');
  const [ethicsProtocol, setEthicsProtocol] = useState('');
  const [destructionDate, setDestructionDate] = useState('');
  const [error, report, clear] = useErrorMessage();
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    clear();
    client
      .call('albums.create', { name, ethicsProtocol: ethicsProtocol.trim() === '' ? null : ethicsProtocol, destructionDate: destructionDate === '' ? null : destructionDate })
      .then(() => {
        setName('');
        setEthicsProtocol('');
        setDestructionDate('');
        onCreated();
      }, report);
  };
  return (
    <section className="card" aria-labelledby="new-album-title">
      <h2 id="new-album-title">New album</h2>
      <form onSubmit={submit} noValidate>
        <label htmlFor="album-name">Name</label>
        <input id="album-name" value={name} onChange={(event) => setName(event.target.value)} />
        <label htmlFor="album-ethics">Ethics protocol number</label>
        <input id="album-ethics" value={ethicsProtocol} onChange={(event) => setEthicsProtocol(event.target.value)} />
        <label htmlFor="album-destruction">Destruction date</label>
        <input id="album-destruction" type="date" value={destructionDate} onChange={(event) => setDestructionDate(event.target.value)} />
        <ErrorText error={error} />
        <button type="submit">Create album</button>
      </form>
    </section>
  );
}
