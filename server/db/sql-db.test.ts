import { pbkdf2 } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SqliteDb } from './sql-db.js';

const schema = 'CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)';

describe('SqliteDb with commits synced off the event loop', () => {
  it('commits without waiting in SQLite and resolves each transaction only after its own WAL sync', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'paradim-sqldb-')), 'db.sqlite');
    const db = new SqliteDb(file, { syncOffThread: true });
    await db.exec(schema);
    expect((await db.get<{ synchronous: number }>('PRAGMA synchronous'))?.synchronous).toBe(1);
    // Transactions racing one another: each resolves with its rows committed.
    await Promise.all(Array.from({ length: 20 }, (_, i) => db.transaction(async (tx) => tx.run('INSERT INTO t (id, v) VALUES (?, ?)', [i, `v${i}`]))));
    expect(existsSync(`${file}-wal`)).toBe(true);
    // A second connection (another process) sees them; closing checkpoints and removes the WAL.
    const other = new Database(file, { readonly: true });
    expect((other.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n).toBe(20);
    other.close();
    await db.close();
    const reopened = new Database(file);
    expect((reopened.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n).toBe(20);
    reopened.close();
  });

  it('follows a WAL file that was replaced, and fails a transaction whose WAL cannot be synced', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'paradim-sqldb-')), 'db.sqlite');
    const db = new SqliteDb(file, { syncOffThread: true });
    await db.exec(schema);
    await db.transaction(async (tx) => tx.run("INSERT INTO t (id, v) VALUES (1, 'a')"));
    // Not something SQLite does while a connection is open; the syncer must not keep syncing a stale file.
    rmSync(`${file}-wal`);
    await expect(db.transaction(async (tx) => tx.run("INSERT INTO t (id, v) VALUES (2, 'b')"))).rejects.toThrow(/ENOENT/);
    await db.close();
  });

  it('syncs on the calling thread when asked (syncInline), on the thread pool otherwise', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'paradim-sqldb-')), 'db.sqlite');
    const db = new SqliteDb(file, { syncOffThread: true });
    await db.exec(schema);
    // With the thread pool kept busy for a while, a sync sent to it waits there, so a callback queued at commit runs
    // first; a sync on the calling thread resolves within the same turn, before that callback.
    const busyPool = (): Promise<unknown> =>
      Promise.all(Array.from({ length: 16 }, () => new Promise((resolve) => pbkdf2('x', 'salt', 20_000, 32, 'sha256', resolve))));
    const loopTurnBeforeResolve = async (id: number, syncInline: boolean): Promise<boolean> => {
      let turned = false;
      const busy = busyPool();
      await db.transaction(async (tx) => tx.run('INSERT INTO t (id, v) VALUES (?, ?)', [id, 'x']), {
        syncInline,
        onCommitted: () => setImmediate(() => (turned = true)),
      });
      const turnedBeforeResolve = turned;
      await busy;
      return turnedBeforeResolve;
    };
    expect(await loopTurnBeforeResolve(1, false)).toBe(true);
    expect(await loopTurnBeforeResolve(2, true)).toBe(false);
    rmSync(`${file}-wal`);
    await expect(db.transaction(async (tx) => tx.run("INSERT INTO t (id, v) VALUES (3, 'b')"), { syncInline: true })).rejects.toThrow(/ENOENT/);
    await db.close();
  });

  it('keeps synchronous=FULL by default', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'paradim-sqldb-')), 'db.sqlite');
    const db = new SqliteDb(file);
    expect((await db.get<{ synchronous: number }>('PRAGMA synchronous'))?.synchronous).toBe(2);
    await db.close();
  });
});
