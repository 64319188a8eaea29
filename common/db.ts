import knex, { type Knex } from 'knex';
import path from 'node:path';
import { types } from 'pg';
import { CancelflowError } from './errors';

export type { Knex };

// BIGINT columns hold minor units and ids; every value we store is a safe integer.
types.setTypeParser(types.builtins.INT8, (v) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new RangeError(`bigint ${v} exceeds the safe integer range`);
  return n;
});

export const MIGRATIONS_DIR = path.resolve(__dirname, '..', 'migrations');

/**
 * How long a query waits for a pooled connection before failing (knex's own default is 60 s, longer
 * than most activity timeouts: a write stuck behind a full pool would outlive its activity).
 */
export const DEFAULT_ACQUIRE_TIMEOUT_MS = 10_000;

export function createDb(
  databaseUrl: string,
  pool: { min?: number; max?: number; acquireTimeoutMs?: number } = {},
): Knex {
  return knex({
    client: 'pg',
    connection: databaseUrl,
    pool: { min: pool.min ?? 0, max: pool.max ?? 10 },
    acquireConnectionTimeout: pool.acquireTimeoutMs ?? DEFAULT_ACQUIRE_TIMEOUT_MS,
    migrations: { directory: MIGRATIONS_DIR, loadExtensions: ['.ts', '.js'], extension: 'ts' },
  });
}

interface PooledConnection {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/**
 * A named prepared statement on one of the pool's connections: Postgres parses and plans it once
 * per connection instead of once per call. For hot, fixed reads (the northbound query endpoint):
 * measured on this machine, a primary-key read at 50 in flight went from ~3,000/s through the
 * query builder to ~9,000/s prepared. `name` must always be used with the same `text`.
 */
export async function preparedQuery<T>(
  db: Knex,
  name: string,
  text: string,
  values: unknown[],
): Promise<T[]> {
  const pool = db.client as {
    acquireConnection(): Promise<PooledConnection>;
    releaseConnection(connection: PooledConnection): Promise<void>;
  };
  const connection = await pool.acquireConnection();
  try {
    return (await connection.query({ name, text, values })).rows as T[];
  } finally {
    await pool.releaseConnection(connection);
  }
}

interface TarnPool {
  acquire(): { promise: Promise<PooledConnection>; abort(): void };
}

/**
 * Runs `use` with one pooled connection, waiting at most `acquireTimeoutMs` for it (instead of
 * the pool's wait for every query): for a write that must give up quickly rather than hold its
 * caller. Pass the connection to knex with `.connection(connection)`.
 */
export async function withConnection<T>(
  db: Knex,
  acquireTimeoutMs: number,
  use: (connection: PooledConnection) => Promise<T>,
): Promise<T> {
  const client = db.client as {
    pool?: TarnPool;
    releaseConnection(connection: PooledConnection): Promise<void>;
  };
  if (!client.pool) throw new CancelflowError('DB_CLOSED', 'the database pool is closed');
  const pending = client.pool.acquire();
  const timer = setTimeout(() => pending.abort(), acquireTimeoutMs);
  let connection: PooledConnection;
  try {
    connection = await pending.promise;
  } catch (err) {
    throw new CancelflowError('DB_BUSY', `no database connection within ${acquireTimeoutMs} ms`, {
      cause: err,
    });
  } finally {
    clearTimeout(timer);
  }
  try {
    return await use(connection);
  } finally {
    await client.releaseConnection(connection);
  }
}

export async function migrateLatest(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest()) as [number, string[]];
  return applied;
}

/** Redacts the password of a connection URL for logs. */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}
