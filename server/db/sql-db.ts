import Database from 'better-sqlite3';
import { closeSync, fdatasync, fdatasyncSync, fstatSync, openSync, statSync } from 'node:fs';
import { promisify } from 'node:util';
import pg from 'pg';

const fdatasyncFd = promisify(fdatasync);

export type SqlRow = Record<string, unknown>;

/**
 * The few SQL operations the identity store and the audit trail need, over SQLite (embedded default) or PostgreSQL
 * (several replicas). Statements use `?` placeholders; PostgreSQL gets `$n`. Everything is async so both behave alike.
 */
export interface SqlDb {
  readonly dialect: 'sqlite' | 'postgres';
  all<T extends SqlRow = SqlRow>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  get<T extends SqlRow = SqlRow>(sql: string, params?: readonly unknown[]): Promise<T | undefined>;
  /** Runs a statement; resolves with the number of rows changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
  /** Several DDL statements separated by `;` (no parameters). */
  exec(sql: string): Promise<void>;
  /**
   * One transaction; resolves once it is durable. `lock` serialises writers across processes (PostgreSQL advisory
   * lock; SQLite's write lock is taken by BEGIN IMMEDIATE anyway). `onCommitted` is called as soon as it committed,
   * which with `syncOffThread` is before the sync that makes it durable: a caller may start the next one then.
   * `syncInline` (with `syncOffThread`) syncs on the calling thread this time: cheaper when nothing else waits for
   * the event loop, since the wake-up after a thread-pool sync can cost more than the sync itself.
   */
  transaction<T>(work: (tx: SqlDb) => Promise<T>, options?: TransactionOptions): Promise<T>;
  close(): Promise<void>;
}

export interface TransactionOptions {
  lock?: number;
  onCommitted?: () => void;
  syncInline?: boolean;
}

export function toPostgresPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/**
 * fdatasync of one file on the thread pool, through a descriptor kept open between calls (one thread-pool round trip
 * per sync). Reopened when the path names another file than the one open (the file was removed and recreated).
 */
class FileSyncer {
  #fd: number | undefined;
  #ino = -1;
  #inFlight = new Set<Promise<void>>();

  constructor(readonly path: string) {}

  /** `inline`: fdatasync on this thread (blocks it for the sync, saves the thread-pool round trip). */
  async sync(inline = false): Promise<void> {
    const ino = statSync(this.path).ino;
    if (this.#fd === undefined || ino !== this.#ino) {
      // Replaced file: later syncs use the new one; syncs still running on the old descriptor finish first.
      if (this.#fd !== undefined) void this.#closeWhenIdle(this.#fd);
      // Opened for writing: Windows flushes only writable handles.
      this.#fd = openSync(this.path, 'r+');
      this.#ino = fstatSync(this.#fd).ino;
    }
    if (inline) {
      fdatasyncSync(this.#fd);
      return;
    }
    const pending = fdatasyncFd(this.#fd);
    this.#inFlight.add(pending);
    try {
      await pending;
    } finally {
      this.#inFlight.delete(pending);
    }
  }

  async #closeWhenIdle(fd: number): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
    closeSync(fd);
  }

  async close(): Promise<void> {
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd !== undefined) await this.#closeWhenIdle(fd);
  }
}

export interface SqliteDbOptions {
  readonly?: boolean;
  /**
   * Make commits durable off the event loop: SQLite commits without waiting (WAL, `synchronous=NORMAL`, which still
   * syncs the WAL header and every checkpoint), then a thread-pool fdatasync of the WAL file runs before the
   * transaction resolves. A resolved `transaction` is as durable as with `synchronous=FULL`, but the event loop is
   * not blocked for the fsync (the audit trail commits once per group of requests). Plain statements outside a
   * transaction are not synced; use a transaction for writes that must be durable.
   */
  syncOffThread?: boolean;
}

/**
 * Prepared statements by SQL text: preparing is a large share of a small statement's cost (about 0.1 ms for a QIDO
 * query), and the texts repeat (values are parameters). Bounded: past `limit` texts, statements are not kept.
 */
export class PreparedStatements {
  readonly #statements = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    private readonly limit = 500,
  ) {}

  get<P extends unknown[] = unknown[], R = unknown>(sql: string): Database.Statement<P, R> {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      if (this.#statements.size < this.limit) this.#statements.set(sql, statement);
    }
    return statement as unknown as Database.Statement<P, R>;
  }
}

/** better-sqlite3 is synchronous; a queue keeps a transaction's awaits from interleaving with other statements. */
export class SqliteDb implements SqlDb {
  readonly dialect = 'sqlite' as const;
  readonly #db: Database.Database;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #statements: PreparedStatements;
  /** Syncs the WAL file after each commit, when commits do not sync themselves. */
  readonly #walSyncer: FileSyncer | undefined;

  constructor(file: string, options: SqliteDbOptions = {}) {
    this.#db = new Database(file, options.readonly === true ? { readonly: true, fileMustExist: true } : {});
    this.#statements = new PreparedStatements(this.#db);
    let walToSync: string | undefined;
    if (options.readonly !== true) {
      const mode = String(this.#db.pragma('journal_mode = WAL', { simple: true })).toLowerCase();
      // Only in WAL mode do a commit's pages all land in one file that one fdatasync makes durable.
      walToSync = options.syncOffThread === true && mode === 'wal' && file !== ':memory:' && file !== '' ? `${file}-wal` : undefined;
      this.#db.pragma(walToSync === undefined ? 'synchronous = FULL' : 'synchronous = NORMAL');
      this.#db.pragma('foreign_keys = ON');
    }
    this.#walSyncer = walToSync === undefined ? undefined : new FileSyncer(walToSync);
    this.#db.pragma('busy_timeout = 10000');
  }

  #statement(sql: string): Database.Statement {
    return this.#statements.get(sql);
  }

  #serial<T>(work: () => Promise<T> | T): Promise<T> {
    const next = this.#queue.then(work, work);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #direct(): SqlDb {
    const db = this.#db;
    const direct: SqlDb = {
      dialect: 'sqlite',
      all: async <T extends SqlRow>(sql: string, params: readonly unknown[] = []) => this.#statement(sql).all(...params) as T[],
      get: async <T extends SqlRow>(sql: string, params: readonly unknown[] = []) => this.#statement(sql).get(...params) as T | undefined,
      run: async (sql, params = []) => this.#statement(sql).run(...params).changes,
      exec: async (sql) => void db.exec(sql),
      transaction: (work) => work(direct),
      close: async () => undefined,
    };
    return direct;
  }

  all<T extends SqlRow = SqlRow>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return this.#serial(() => this.#statement(sql).all(...params) as T[]);
  }

  get<T extends SqlRow = SqlRow>(sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
    return this.#serial(() => this.#statement(sql).get(...params) as T | undefined);
  }

  run(sql: string, params: readonly unknown[] = []): Promise<number> {
    return this.#serial(() => this.#statement(sql).run(...params).changes);
  }

  exec(sql: string): Promise<void> {
    return this.#serial(() => void this.#db.exec(sql));
  }

  async transaction<T>(work: (tx: SqlDb) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const result = await this.#serial(async () => {
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        const value = await work(this.#direct());
        this.#db.exec('COMMIT');
        return value;
      } catch (error) {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
        throw error;
      }
    });
    options.onCommitted?.();
    // Outside the queue: the next transaction may commit while this sync runs (its own sync then covers it).
    if (this.#walSyncer !== undefined) {
      try {
        await this.#walSyncer.sync(options.syncInline === true);
      } catch (error) {
        // Closed meanwhile: closing checkpointed the WAL into the (synced) database file and removed it.
        if (!(this.#db.open === false && (error as NodeJS.ErrnoException).code === 'ENOENT')) throw error;
      }
    }
    return result;
  }

  async close(): Promise<void> {
    await this.#serial(() => void this.#db.close());
    await this.#walSyncer?.close();
  }
}

export class PostgresDb implements SqlDb {
  readonly dialect = 'postgres' as const;
  readonly #pool: pg.Pool;

  constructor(connectionString: string, options: { max?: number } = {}) {
    this.#pool = new pg.Pool({ connectionString, max: options.max ?? 8 });
  }

  static #bound(client: pg.Pool | pg.PoolClient): Omit<SqlDb, 'transaction' | 'close'> {
    return {
      dialect: 'postgres',
      all: async <T extends SqlRow>(sql: string, params: readonly unknown[] = []) => (await client.query(toPostgresPlaceholders(sql), [...params])).rows as T[],
      get: async <T extends SqlRow>(sql: string, params: readonly unknown[] = []) => (await client.query(toPostgresPlaceholders(sql), [...params])).rows[0] as T | undefined,
      run: async (sql, params = []) => (await client.query(toPostgresPlaceholders(sql), [...params])).rowCount ?? 0,
      exec: async (sql) => void (await client.query(sql)),
    };
  }

  all<T extends SqlRow = SqlRow>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return PostgresDb.#bound(this.#pool).all<T>(sql, params);
  }

  get<T extends SqlRow = SqlRow>(sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
    return PostgresDb.#bound(this.#pool).get<T>(sql, params);
  }

  run(sql: string, params: readonly unknown[] = []): Promise<number> {
    return PostgresDb.#bound(this.#pool).run(sql, params);
  }

  exec(sql: string): Promise<void> {
    return PostgresDb.#bound(this.#pool).exec(sql);
  }

  async transaction<T>(work: (tx: SqlDb) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      if (options.lock !== undefined) await client.query('SELECT pg_advisory_xact_lock($1)', [options.lock]);
      const tx: SqlDb = { ...PostgresDb.#bound(client), transaction: (inner) => inner(tx), close: async () => undefined };
      const result = await work(tx);
      await client.query('COMMIT');
      options.onCommitted?.();
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  close(): Promise<void> {
    return this.#pool.end();
  }
}
