import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runAdminCommand } from './admin-cli.js';
import { auditPaths } from './audit/audit-log.js';
import { IdentityStore } from './auth/identity-store.js';

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const outSpy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const errSpy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  try {
    return { code: await runAdminCommand(argv), stdout, stderr };
  } finally {
    outSpy.mockRestore();
    errSpy.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('paradim-server admin commands', () => {
  it('creates an album, a scoped token (secret alone on stdout), revokes it, and audits each step', async () => {
    const data = await mkdtemp(join(tmpdir(), 'paradim-admin-'));
    const album = await run('album', 'create', '--data', data, '--name', 'Lung CT', '--ethics-protocol', 'MP-2026-1', '--destruction-date', '2031-12-31');
    expect(album.code).toBe(0);
    const albumId = album.stdout.trim();
    expect(albumId).toMatch(/^[0-9a-f-]{36}$/);

    const token = await run('token', 'create', '--data', data, '--user', 'alice', '--album', albumId, '--permissions', 'read,download', '--expires', '7d');
    expect(token.code).toBe(0);
    expect(token.stdout).toMatch(/^pdw_[0-9a-f]{16}_[A-Za-z0-9_-]{43}\n$/);
    const secret = token.stdout.trim();

    const identity = await IdentityStore.open({ dataDir: data });
    const check = await identity.authenticate(secret);
    expect(check).toMatchObject({ ok: true, token: { albumId, permissions: ['read', 'download'] }, user: { subject: 'alice' } });
    expect(await identity.getMember(albumId, check.ok ? check.user.id : '')).not.toBeNull();
    identity.close();

    expect((await run('token', 'revoke', '--data', data, secret)).code).toBe(0);
    expect((await run('token', 'revoke', '--data', data, secret)).code).toBe(1);
    const list = await run('token', 'list', '--data', data, '--user', 'alice');
    expect(list.stdout).toContain('\trevoked\t');

    const verify = await run('audit', 'verify', '--data', data);
    expect(verify).toMatchObject({ code: 0 });
    expect(verify.stdout).toMatch(/^Audit trail intact: 4 entries/);

    const out = join(data, 'audit.ndjson');
    expect((await run('audit', 'export', '--data', data, '--out', out)).code).toBe(0);
    const lines = (await readFile(out, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.filter((_, i) => i % 2 === 1).map((entry) => entry.action)).toEqual(['album.create', 'album.member-add', 'token.create', 'token.revoke']);
  });

  it('audit verify exits 1 and says what is wrong after tampering', async () => {
    const data = await mkdtemp(join(tmpdir(), 'paradim-admin-'));
    await run('album', 'create', '--data', data, '--name', 'A');
    await run('album', 'create', '--data', data, '--name', 'B');
    const db = new Database(auditPaths(data).dbFile);
    db.exec("DROP TRIGGER audit_entries_no_update; UPDATE audit_entries SET actor_id = 'cli:nobody' WHERE seq = 1;");
    db.close();
    const verify = await run('audit', 'verify', '--data', data);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toContain('entry 1 was altered');
  });

  it('answers usage errors with exit 2 and the usage text', async () => {
    const data = await mkdtemp(join(tmpdir(), 'paradim-admin-'));
    const missing = await run('token', 'create', '--data', data, '--user', 'bob');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--permissions is required');
    const bad = await run('token', 'create', '--data', data, '--user', 'bob', '--permissions', 'read,admin');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('read, write, download');
    expect((await run('album', 'create', '--name', 'x', '--data', data, '--destruction-date', 'soon')).code).toBe(2);
    expect((await run('album', 'frobnicate', '--data', data)).code).toBe(2);
  });
});
