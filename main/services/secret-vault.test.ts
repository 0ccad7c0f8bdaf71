import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openKeyFileVault } from './secret-vault.js';

describe('key-file vault', () => {
  it('round-trips, keeps the key private and stays stable across reopen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'paradim-vault-'));
    const vault = await openKeyFileVault(dir);
    const sealed = await vault.encrypt('refresh-token-value');
    expect(Buffer.from(sealed).toString('utf8')).not.toContain('refresh-token-value');
    expect(await (await openKeyFileVault(dir)).decrypt(sealed)).toBe('refresh-token-value');
    expect((await stat(join(dir, 'vault.key'))).mode & 0o777).toBe(0o600);
  });

  it('refuses altered ciphertext', async () => {
    const vault = await openKeyFileVault(await mkdtemp(join(tmpdir(), 'paradim-vault-')));
    const sealed = Buffer.from(await vault.encrypt('x'));
    const last = sealed.length - 1;
    sealed.writeUInt8(sealed.readUInt8(last) ^ 1, last);
    await expect(vault.decrypt(sealed)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});
