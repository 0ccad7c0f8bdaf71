import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SqliteDb } from './sql-db.js';

const schema = 'CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)';

describe('SqliteDb', () => {
  it('commits with synchronous=FULL in WAL mode: racing transactions each resolve with their rows durable', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'paradim-sqldb-')), 'db.sqlite');
    const db = new SqliteDb(file);
    await db.exec(schema);
    expect((await db.get<{ synchronous: number }>('PRAGMA synchronous'))?.synchronous).toBe(2);
    expect((await db.get<{ journal_mode: string }>('PRAGMA journal_mode'))?.journal_mode).toBe('wal');
    await Promise.all(Array.from({ length: 20 }, (_, i) => db.transaction(async (tx) => tx.run('INSERT INTO t (id, v) VALUES (?, ?)', [i, `v${i}`]))));
    // A second connection (another process) sees them; closing checkpoints and removes the WAL.
    const other = new Database(file, { readonly: true });
    expect((other.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n).toBe(20);
    other.close();
    await db.close();
    expect(existsSync(`${file}-wal`)).toBe(false);
    const reopened = new Database(file);
    expect((reopened.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n).toBe(20);
    reopened.close();
  });

  it('rolls a failed transaction back', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'paradim-sqldb-')), 'db.sqlite');
    const db = new SqliteDb(file);
    await db.exec(schema);
    await expect(
      db.transaction(async (tx) => {
        await tx.run("INSERT INTO t (id, v) VALUES (1, 'a')");
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM t'))?.n).toBe(0);
    await db.close();
  });
});
