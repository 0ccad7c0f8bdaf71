import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { memberFlagLabels, memberFlags, type MemberFlags } from '../../shared/domain/access.js';
import { AccessReview } from './access-review.js';
import { AlbumDangerZone } from './album-danger-zone.js';
import type { AlbumSummary, Member } from '../../shared/ipc/contract.js';
import type { ParadimClient } from '../ipc/client.js';
import { useErrorMessage } from '../use-error-message.js';
import { ErrorText } from './error-text.js';

export function AlbumMembers(props: { readonly client: ParadimClient; readonly album: AlbumSummary; readonly onBack: () => void }): React.JSX.Element {
  const { client, album, onBack } = props;
  const [members, setMembers] = useState<Member[] | null>(null);
  const [error, report, clear] = useErrorMessage();
  const [saved, setSaved] = useState<string | null>(null);
  const reload = useCallback(() => {
    client.call('albums.members', { albumId: album.id }).then(setMembers, report);
  }, [client, album.id, report]);
  useEffect(reload, [reload]);

  const update = (member: Member, change: { isAdmin?: boolean; flags?: MemberFlags }): void => {
    clear();
    setSaved(null);
    client
      .call('albums.setMember', { albumId: album.id, userId: member.userId, isAdmin: change.isAdmin ?? member.isAdmin, flags: change.flags ?? member.flags })
      .then(() => {
        setSaved(`Saved ${member.user?.name ?? member.userId}.`);
        reload();
      }, report);
  };
  const remove = (member: Member): void => {
    clear();
    client.call('albums.removeMember', { albumId: album.id, userId: member.userId }).then(reload, report);
  };

  return (
    <div className="stack">
    <section className="card" aria-labelledby="members-title">
      <div className="row">
        <button type="button" className="link" onClick={onBack}>
          ← Albums
        </button>
      </div>
      <h2 id="members-title">{album.name}: members</h2>
      <p className="muted">
        Ethics protocol {album.ethicsProtocol ?? '—'} · destruction {album.destructionDate === null ? 'not scheduled' : new Date(album.destructionDate).toLocaleDateString()}
      </p>
      <ErrorText error={error} />
      {saved !== null && <p className="field-ok">{saved}</p>}
      {members === null ? (
        <p className="muted">Loading…</p>
      ) : (
        <table className="grid">
          <thead>
            <tr>
              <th>Member</th>
              <th>Admin</th>
              {memberFlags.map((flag) => (
                <th key={flag}>{memberFlagLabels[flag]}</th>
              ))}
              <th />
            </tr>
          </thead>
          <tbody>
            {members.map((member) => (
              <tr key={member.userId}>
                <td>
                  {member.user?.name ?? member.userId}
                  {member.user?.email != null && <div className="muted">{member.user.email}</div>}
                </td>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`${member.user?.name ?? member.userId} is album administrator`}
                    checked={member.isAdmin}
                    onChange={(event) => update(member, { isAdmin: event.target.checked })}
                  />
                </td>
                {memberFlags.map((flag) => (
                  <td key={flag}>
                    <input
                      type="checkbox"
                      aria-label={`${member.user?.name ?? member.userId}: ${memberFlagLabels[flag]}`}
                      checked={member.isAdmin || member.flags[flag]}
                      disabled={member.isAdmin}
                      onChange={(event) => update(member, { flags: { ...member.flags, [flag]: event.target.checked } })}
                    />
                  </td>
                ))}
                <td>
                  <button type="button" className="link danger" onClick={() => remove(member)}>
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <InviteForm client={client} albumId={album.id} onInvited={reload} />
    </section>
    <AccessReview client={client} album={album} />
    <AlbumDangerZone client={client} album={album} onDestroyed={onBack} />
    </div>
  );
}

const inviteDefaults: MemberFlags = { addUser: false, addSeries: true, removeSeries: false, download: true, sendSeries: false, writeComments: true };

function InviteForm(props: { readonly client: ParadimClient; readonly albumId: string; readonly onInvited: () => void }): React.JSX.Element {
  const [user, setUser] = useState('');
  const [error, report, clear] = useErrorMessage();
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    clear();
    props.client.call('albums.invite', { albumId: props.albumId, user, isAdmin: false, flags: inviteDefaults }).then(() => {
      setUser('');
      props.onInvited();
    }, report);
  };
  return (
    <form onSubmit={submit} noValidate className="inline-form">
      <label htmlFor="invite-user">Invite (e-mail or user name)</label>
      <div className="row">
        <input id="invite-user" value={user} onChange={(event) => setUser(event.target.value)} />
        <button type="submit" disabled={user.trim() === ''}>
          Invite
        </button>
      </div>
      <ErrorText error={error} />
    </form>
  );
}
