/** Postgres URLs and databases: the embedded server's admin URL, creating and dropping databases. */
import pg from 'pg';
import { PASSWORD, USER } from './access';

/** The admin URL of an embedded Postgres started by us on `port`. */
export function embeddedUrl(port: number): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
}

/** Replaces the database name of a Postgres URL. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * Statements on the admin connection about `database`, whose name is quoted into the SQL: names
 * are ours (never user input), checked anyway.
 */
async function onDatabase(adminUrl: string, database: string, run: (client: pg.Client) => Promise<unknown>) {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) throw new Error(`unsafe database name ${database}`);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await run(client);
  } finally {
    await client.end();
  }
}

/** Creates `database` unless it exists. */
export async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  await onDatabase(adminUrl, database, async (client) => {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${database}"`);
  });
}

export async function dropDatabase(adminUrl: string, database: string): Promise<void> {
  await onDatabase(adminUrl, database, (client) =>
    client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`),
  );
}
