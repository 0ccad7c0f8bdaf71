import { useEffect, useState } from 'react';
import type { Session } from '../shared/ipc/contract.js';
import type { ParadimClient } from './ipc/client.js';

/**
 * The current session, kept current by main's `session.changed` events. In the browser shell main asks the window to
 * open the identity provider's sign-in page; the address is also returned, for a link in case a popup blocker stops it.
 */
export function useSession(client: ParadimClient, report: (error: unknown) => void): { session: Session | null; signInUrl: string | null } {
  const [session, setSession] = useState<Session | null>(null);
  const [signInUrl, setSignInUrl] = useState<string | null>(null);
  useEffect(() => {
    const offChanged = client.on('session.changed', (value) => {
      setSession(value);
      setSignInUrl(null);
    });
    const offOpen = client.on('session.openExternal', ({ url }) => {
      setSignInUrl(url);
      window.open(url, '_blank', 'noopener');
    });
    client.call('session.get', {}).then(setSession, report);
    return () => {
      offChanged();
      offOpen();
    };
  }, [client, report]);
  return { session, signInUrl };
}
