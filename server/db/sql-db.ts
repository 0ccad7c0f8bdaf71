import Database from 'better-sqlite3';
import pg from 'pg';

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
   * lock; SQLite's write lock is taken by BEGIN IMMEDIATE anyway).
   */
  transaction<T>(work: (tx: SqlDb) => Promise<T>, options?: { lock?: number }): Promise<T>;
  close(): Promise<void>;
}

export function toPostgresPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

export interface SqliteDbOptions {
  readonly?: boolean;
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

  constructor(file: string, options: SqliteDbOptions = {}) {
    this.#db = new Database(file, options.readonly === true ? { readonly: true, fileMustExist: true } : {});
    this.#statements = new PreparedStatements(this.#db);
    if (options.readonly !== true) {
      this.#db.pragma('journal_mode = WAL');
      // Each commit syncs the WAL before it returns: a resolved transaction is durable.
      this.#db.pragma('synchronous = FULL');
      this.#db.pragma('foreign_keys = ON');
    }
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

  transaction<T>(work: (tx: SqlDb) => Promise<T>): Promise<T> {
    return this.#serial(async () => {
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
  }

  async close(): Promise<void> {
    await this.#serial(() => void this.#db.close());
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

  async transaction<T>(work: (tx: SqlDb) => Promise<T>, options: { lock?: number } = {}): Promise<T> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      if (options.lock !== undefined) await client.query('SELECT pg_advisory_xact_lock($1)', [options.lock]);
      const tx: SqlDb = { ...PostgresDb.#bound(client), transaction: (inner) => inner(tx), close: async () => undefined };
      const result = await work(tx);
      await client.query('COMMIT');
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
