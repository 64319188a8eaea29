import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  constants,
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { freePort } from './ports';
import { devServerDynamicConfigArgs } from './temporal-server/dynamic-config';
import { SEARCH_ATTRIBUTE_KEYS, SEARCH_ATTRIBUTE_NAMES } from '../workflows/search-attributes';

/**
 * Finds, builds and starts the Temporal CLI's dev server (server + Web UI, SQLite persistence).
 *
 * The SDK's own download needs the internet; on machines without it we build the CLI from its
 * Go module at a pinned version into a cache outside the checkout, once, and reuse it.
 */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
// v1.6.0+ carry a `replace` directive and cannot be `go install`ed directly (TOOLCHAIN.md).
export const TEMPORAL_CLI_VERSION = 'v1.5.1';

export type TemporalCli = { kind: 'binary'; path: string; source: string } | { kind: 'sdk-download' };

type Log = (line: string) => void;

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CANCELFLOW_CACHE_DIR) return env.CANCELFLOW_CACHE_DIR;
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'cancelflow');
}

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The `go` command: on PATH, or where the official tarball puts it. */
export function findGo(env: NodeJS.ProcessEnv): string | undefined {
  return onPath('go', env) ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
}

function onPath(command: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Builds the CLI with `go install` into a temporary folder, then moves it into place atomically. */
export function buildTemporalCli(goBinary: string, target: string, log: Log): void {
  const targetDir = path.dirname(target);
  mkdirSync(targetDir, { recursive: true });
  const staging = mkdtempSync(path.join(targetDir, '.build-'));
  log(
    `Building the Temporal CLI ${TEMPORAL_CLI_VERSION} from its Go module into ${targetDir}.\n` +
      '  This happens once per machine and takes a few minutes (the whole server and Web UI are compiled).',
  );
  const started = Date.now();
  const result = spawnSync(
    goBinary,
    ['install', '-trimpath', '-ldflags', '-s -w', `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, GOBIN: staging, CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' },
    },
  );
  try {
    if (result.status !== 0) {
      throw new Error(
        `go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION} failed (exit ${result.status ?? result.signal}); ` +
          'set TEMPORAL_CLI_PATH to a temporal binary instead',
      );
    }
    renameSync(path.join(staging, 'temporal'), target);
    log(`Built the Temporal CLI in ${Math.round((Date.now() - started) / 1000)} s.`);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * Resolution order (TOOLCHAIN.md): TEMPORAL_CLI_PATH → `temporal` on PATH → the cache →
 * build with `go` when present → the SDK's own download (machines with internet).
 */
export function resolveTemporalCli(
  env: NodeJS.ProcessEnv = process.env,
  log: Log = console.error,
): TemporalCli {
  if (env.TEMPORAL_CLI_PATH) {
    if (!isExecutable(env.TEMPORAL_CLI_PATH)) {
      throw new Error(`TEMPORAL_CLI_PATH=${env.TEMPORAL_CLI_PATH} is not an executable file`);
    }
    return { kind: 'binary', path: env.TEMPORAL_CLI_PATH, source: 'TEMPORAL_CLI_PATH' };
  }
  const fromPath = onPath('temporal', env);
  if (fromPath) return { kind: 'binary', path: fromPath, source: 'PATH' };
  const cached = path.join(cacheDir(env), `temporal-${TEMPORAL_CLI_VERSION}`, 'temporal');
  if (isExecutable(cached)) return { kind: 'binary', path: cached, source: 'cache' };
  const go = findGo(env);
  if (go) {
    buildTemporalCli(go, cached, log);
    return { kind: 'binary', path: cached, source: 'built' };
  }
  log('No temporal binary and no Go toolchain: falling back to the Temporal SDK download (needs internet).');
  return { kind: 'sdk-download' };
}

export interface DevServerOptions {
  ip?: string;
  port: number;
  /** Omit for a headless server (tests). */
  uiPort?: number;
  /** SQLite file; omit for an in-memory server. */
  dbFile?: string;
  namespace?: string;
  /** Server output goes here (it is verbose); defaults to discarding it. */
  logFile?: string;
  log?: Log;
  env?: NodeJS.ProcessEnv;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  namespace: string;
  stop(): Promise<void>;
}

async function waitForServer(
  address: string,
  namespace: string,
  child: ChildProcess | undefined,
  budgetMs: number,
): Promise<Connection> {
  const deadline = Date.now() + budgetMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) {
      throw new Error(`temporal server exited with code ${child.exitCode} before it was ready`);
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return connection;
      } catch (err) {
        await connection.close();
        throw err;
      }
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw new Error(`Temporal server at ${address} not ready after ${budgetMs / 1000} s: ${String(lastError)}`);
}

/**
 * Registers our search attributes unless present. Flags on `start-dev` only apply when the
 * namespace is first created, so an existing database file needs this.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = SEARCH_ATTRIBUTE_NAMES.filter((name) => !(name in (existing.customAttributes ?? {})));
  if (missing.length > 0) {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(
        missing.map((name) => [name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
      ),
    });
  }
  return missing;
}

/**
 * A dev server on a port picked now. A port that was free a moment ago can be taken before the
 * server binds it (the server picks its own internal ports the same way and once took ours:
 * "bind: address already in use", exit 2), so a server that exits before it is ready is tried
 * again on another port, up to `attempts` times.
 */
export async function startTemporalDevServerOnFreePort(
  options: Omit<DevServerOptions, 'port'>,
  attempts = 3,
): Promise<DevServer> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await startTemporalDevServer({ ...options, port });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (attempt >= attempts || !/exited with code/.test(message)) throw err;
      (options.log ?? console.error)(`${message} (port ${port}); trying another port`);
    }
  }
}

export async function startTemporalDevServer(options: DevServerOptions): Promise<DevServer> {
  const env = options.env ?? process.env;
  const log = options.log ?? console.error;
  const ip = options.ip ?? '127.0.0.1';
  const namespace = options.namespace ?? 'default';
  const address = `${ip}:${options.port}`;
  const cli = resolveTemporalCli(env, log);

  if (cli.kind === 'sdk-download') {
    const { TestWorkflowEnvironment } = await import('@temporalio/testing');
    const testEnv = await TestWorkflowEnvironment.createLocal({
      server: {
        ip,
        port: options.port,
        ...(options.uiPort ? { ui: true, uiPort: options.uiPort } : {}),
        ...(options.dbFile ? { dbFilename: options.dbFile } : {}),
        namespace,
        searchAttributes: [...SEARCH_ATTRIBUTE_KEYS],
        extraArgs: devServerDynamicConfigArgs(),
      },
    });
    await ensureSearchAttributes(testEnv.connection, namespace);
    return {
      address,
      ...(options.uiPort ? { uiUrl: `http://${ip}:${options.uiPort}` } : {}),
      namespace,
      stop: () => testEnv.teardown(),
    };
  }

  const args = ['server', 'start-dev', '--ip', ip, '--port', String(options.port), '--log-level', 'warn'];
  if (options.uiPort) args.push('--ui-port', String(options.uiPort));
  else args.push('--headless');
  if (options.dbFile) {
    mkdirSync(path.dirname(options.dbFile), { recursive: true });
    args.push('--db-filename', options.dbFile);
  }
  if (namespace !== 'default') args.push('--namespace', namespace);
  for (const name of SEARCH_ATTRIBUTE_NAMES) args.push('--search-attribute', `${name}=Keyword`);
  args.push(...devServerDynamicConfigArgs());

  const output = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
  const child = spawn(cli.path, args, {
    stdio: ['ignore', output ? 'pipe' : 'ignore', output ? 'pipe' : 'ignore'],
  });
  if (output) {
    child.stdout?.pipe(output);
    child.stderr?.pipe(output);
  }
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    output?.end();
  };

  try {
    const connection = await waitForServer(address, namespace, child, 60_000);
    try {
      await ensureSearchAttributes(connection, namespace);
    } finally {
      await connection.close();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    address,
    ...(options.uiPort ? { uiUrl: `http://${ip}:${options.uiPort}` } : {}),
    namespace,
    stop,
  };
}
