import { useEffect, useState } from 'react';
import type { Session } from '../shared/ipc/contract.js';
import type { ParadimClient } from './ipc/client.js';

/** The current session, kept current by main's `session.changed` events; opens IdP pages main asks for. */
export function useSession(client: ParadimClient, report: (error: unknown) => void): Session | null {
  const [session, setSession] = useState<Session | null>(null);
  useEffect(() => {
    const offChanged = client.on('session.changed', setSession);
    const offOpen = client.on('session.openExternal', ({ url }) => {
      window.open(url, '_blank', 'noopener');
    });
    client.call('session.get', {}).then(setSession, report);
    return () => {
      offChanged();
      offOpen();
    };
  }, [client, report]);
  return session;
}
