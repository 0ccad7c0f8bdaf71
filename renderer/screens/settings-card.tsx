import { useEffect, useState, type FormEvent } from 'react';
import type { Settings } from '../../shared/ipc/contract.js';
import type { ParadimClient } from '../ipc/client.js';
import { useErrorMessage } from '../use-error-message.js';
import { ErrorText } from './error-text.js';

export function SettingsCard({ client }: { readonly client: ParadimClient }): React.JSX.Element {
  const [settings, setSettings] = useState<Settings | null>(null);
  const [serverUrl, setServerUrl] = useState('');
  const [saved, setSaved] = useState(false);
  const [error, report, clear] = useErrorMessage();

  useEffect(() => {
    client.call('settings.get', {}).then((value) => {
      setSettings(value);
      setServerUrl(value.serverUrl ?? '');
    }, report);
  }, [client, report]);

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    clear();
    setSaved(false);
    client
      .call('settings.update', { serverUrl: serverUrl.trim() === '' ? null : serverUrl })
      .then((value) => {
        setSettings(value);
        setSaved(true);
      }, report);
  };

  return (
    <section className="card" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      <form onSubmit={submit} noValidate>
        <label htmlFor="server-url">Companion server address</label>
        <input
          id="server-url"
          type="text"
          inputMode="url"
          placeholder="Leave empty to use the server started with the workstation"
          value={serverUrl}
          onChange={(event) => setServerUrl(event.target.value)}
          aria-invalid={error !== null}
        />
        <ErrorText error={error} />
        {saved && <p className="field-ok">Settings saved.</p>}
        <button type="submit" disabled={settings === null}>
          Save
        </button>
      </form>
    </section>
  );
}
