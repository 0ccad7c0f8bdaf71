import { useCallback, useEffect, useState } from 'react';
import type { AccessReview as Review, AlbumSummary, TokenInfo } from '../../shared/ipc/contract.js';
import type { ParadimClient } from '../ipc/client.js';
import { useErrorMessage } from '../use-error-message.js';
import { ErrorText } from './error-text.js';

function when(value: string | null): string {
  return value === null ? 'never' : new Date(value).toLocaleDateString();
}

/** Who can reach the album, how, and when they last did; album tokens can be revoked from here. */
export function AccessReview({ client, album }: { readonly client: ParadimClient; readonly album: AlbumSummary }): React.JSX.Element {
  const [review, setReview] = useState<Review | null>(null);
  const [error, report, clear] = useErrorMessage();
  const load = useCallback(() => {
    client.call('albums.accessReview', { albumId: album.id }).then(setReview, report);
  }, [client, album.id, report]);
  useEffect(load, [load]);
  const revoke = (token: TokenInfo): void => {
    clear();
    client.call('tokens.revoke', { tokenId: token.id }).then(load, report);
  };
  const tokenCell = (token: TokenInfo): React.JSX.Element => (
    <li key={token.id}>
      {token.label ?? token.id} · {token.albumId === null ? 'all albums' : 'this album'} · {token.permissions.join(', ')} · last used {when(token.lastUsedAt)} ·{' '}
      {token.state}
      {token.state === 'active' && token.albumId === album.id && (
        <>
          {' '}
          <button type="button" className="link danger" onClick={() => revoke(token)}>
            Revoke
          </button>
        </>
      )}
    </li>
  );
  return (
    <section className="card" aria-labelledby="review-title">
      <h2 id="review-title">Access review</h2>
      <ErrorText error={error} />
      {review === null ? (
        <p className="muted">Loading…</p>
      ) : (
        <>
          <p className="muted">
            Generated {new Date(review.generatedAt).toLocaleString()} · dormant means no activity for {review.dormantAfterDays} days
          </p>
          <table className="grid">
            <thead>
              <tr>
                <th>Member</th>
                <th>Role</th>
                <th>Last seen</th>
                <th>Tokens</th>
              </tr>
            </thead>
            <tbody>
              {review.members.map((member) => (
                <tr key={member.userId} className={member.dormant ? 'dormant' : undefined}>
                  <td>
                    {member.name ?? member.email ?? member.userId}
                    {member.dormant && <div className="field-error">dormant</div>}
                  </td>
                  <td>{member.role}</td>
                  <td>{when(member.lastSeenAt)}</td>
                  <td>{member.tokens.length === 0 ? '—' : <ul className="plain">{member.tokens.map(tokenCell)}</ul>}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {review.tokensOfFormerMembers.length > 0 && (
            <>
              <h3>Album tokens of people who are no longer members</h3>
              <ul className="plain">{review.tokensOfFormerMembers.map(tokenCell)}</ul>
            </>
          )}
        </>
      )}
    </section>
  );
}
