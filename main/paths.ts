import { homedir } from 'node:os';
import { join } from 'node:path';

/** Per-user data folder of the workstation (settings, vault key, logs), overridable with PARADIM_USER_DATA. */
export function defaultUserDataDir(): string {
  const override = process.env.PARADIM_USER_DATA;
  if (override !== undefined && override !== '') return override;
  if (process.platform === 'win32') return join(process.env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), 'PARADIM Workstation');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'PARADIM Workstation');
  return join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'paradim-workstation');
}
