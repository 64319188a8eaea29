/** The server's Postgres: its endpoint from a URL; its two databases' schemas, set up by its own SQL tool. */
import { spawnSync } from 'node:child_process';
import type { ServerBinaries } from './binaries';

type Log = (line: string) => void;

export interface PostgresEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** Postgres endpoint of a `postgres://user:password@host:port/db` URL. */
export function endpointOf(url: string): PostgresEndpoint {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
  };
}

/**
 * Creates the two databases (if missing) and brings their schemas to the server's version with its
 * own tool: `setup-schema -v 0.0` once, then `update-schema` with the embedded versioned schema.
 */
export function setupTemporalSchema(binaries: ServerBinaries, pg: PostgresEndpoint, log: Log): void {
  const base = ['--plugin', 'postgres12', '--ep', pg.host, '-p', String(pg.port), '-u', pg.user];
  const env = { ...process.env, SQL_PASSWORD: pg.password };
  const run = (args: string[], okIf?: RegExp) => {
    const r = spawnSync(binaries.sqlTool, args, { env, encoding: 'utf8' });
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    if (r.status !== 0 && !(okIf && okIf.test(out)))
      throw new Error(`temporal-sql-tool ${args.join(' ')} failed (exit ${r.status}): ${out.slice(-800)}`);
  };
  for (const [db, schema] of [
    ['temporal', 'postgresql/v12/temporal'],
    ['temporal_visibility', 'postgresql/v12/visibility'],
  ] as const) {
    run([...base, '--db', db, 'create-database'], /already exists/);
    run([...base, '--db', db, 'setup-schema', '-v', '0.0'], /already exists/);
    run([...base, '--db', db, 'update-schema', '--schema-name', schema]);
    log(`Temporal schema ready in database ${db}`);
  }
}
