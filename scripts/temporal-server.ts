import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { freePort, freePortIn } from './ports';
import { cacheDir, ensureSearchAttributes, findGo, isExecutable } from './temporal';

/**
 * The production engine: the Temporal server itself (not `temporal server start-dev`), built from
 * its Go module and run on Postgres as four services in their own processes (frontend, history,
 * matching, worker), each restartable alone. The schema is set up by the server's own SQL tool in
 * two databases (`temporal`, `temporal_visibility`) of the Postgres it is given. Used by the chaos
 * run with `CHAOS_TEMPORAL=server`; README "Production" says what a real cluster needs beyond it.
 */

/** The server the CLI of scripts/temporal.ts embeds: its module is already in the Go cache. */
export const TEMPORAL_SERVER_MODULE = 'go.temporal.io/server';
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';

export const TEMPORAL_SERVICES = ['frontend', 'history', 'matching', 'worker'] as const;
export type TemporalService = (typeof TEMPORAL_SERVICES)[number];

type Log = (line: string) => void;

export interface ServerBinaries {
  server: string;
  sqlTool: string;
}

/** `TEMPORAL_SERVER_DIR` (holding `temporal-server` and `temporal-sql-tool`), the cache, or a build with Go. */
export function resolveTemporalServer(
  env: NodeJS.ProcessEnv = process.env,
  log: Log = console.error,
): ServerBinaries {
  const dir =
    env.TEMPORAL_SERVER_DIR ?? path.join(cacheDir(env), `temporal-server-${TEMPORAL_SERVER_VERSION}`);
  const binaries = {
    server: path.join(dir, 'temporal-server'),
    sqlTool: path.join(dir, 'temporal-sql-tool'),
  };
  if (isExecutable(binaries.server) && isExecutable(binaries.sqlTool)) return binaries;
  if (env.TEMPORAL_SERVER_DIR)
    throw new Error(`TEMPORAL_SERVER_DIR=${dir} does not hold temporal-server and temporal-sql-tool`);
  const go = findGo(env);
  if (!go)
    throw new Error(
      'no Temporal server binaries and no Go toolchain to build them (set TEMPORAL_SERVER_DIR)',
    );
  mkdirSync(dir, { recursive: true });
  const staging = mkdtempSync(path.join(dir, '.build-'));
  log(
    `Building the Temporal server ${TEMPORAL_SERVER_VERSION} and its SQL tool from ${TEMPORAL_SERVER_MODULE} into ${dir} (once per machine) ...`,
  );
  const started = Date.now();
  try {
    const result = spawnSync(
      go,
      [
        'install',
        '-trimpath',
        '-ldflags',
        '-s -w',
        `${TEMPORAL_SERVER_MODULE}/cmd/server@${TEMPORAL_SERVER_VERSION}`,
        `${TEMPORAL_SERVER_MODULE}/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`,
      ],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...env, GOBIN: staging, CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' },
      },
    );
    if (result.status !== 0)
      throw new Error(`go install of the Temporal server failed (exit ${result.status ?? result.signal})`);
    renameSync(path.join(staging, 'server'), binaries.server);
    renameSync(path.join(staging, 'sql'), binaries.sqlTool);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  log(`Built the Temporal server in ${Math.round((Date.now() - started) / 1000)} s.`);
  return binaries;
}

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

export interface TemporalCluster {
  /** The frontend's gRPC address. */
  address: string;
  /** The databases the server keeps its state in (for the secrets scan). */
  databases: string[];
  pid(service: TemporalService): number | undefined;
  /** Exits a service made by itself (each restarted 2 s later). */
  ownExits(): Array<{ service: TemporalService; code: number | null; at: number }>;
  /** SIGKILL one service (a crash), wait `downS`, start it again; resolves when the frontend answers. */
  restartService(service: TemporalService, downS: number): Promise<void>;
  /** SIGKILL every service, wait `downS`, start them again. */
  restart(downS: number): Promise<void>;
  stop(): Promise<void>;
}

function serverConfig(pg: PostgresEndpoint, ports: Record<string, number>): string {
  const store = (db: string, conns: number) => `
      sql:
        pluginName: "postgres12"
        databaseName: "${db}"
        connectAddr: "${pg.host}:${pg.port}"
        connectProtocol: "tcp"
        user: "${pg.user}"
        password: "${pg.password}"
        maxConns: ${conns}
        maxIdleConns: ${conns}
        maxConnLifetime: "1h"`;
  const service = (name: string) => `
  ${name}:
    rpc:
      grpcPort: ${ports[`${name}Grpc`]}
      membershipPort: ${ports[`${name}Membership`]}
      bindOnLocalHost: true${name === 'frontend' ? `\n      httpPort: ${ports.frontendHttp}` : ''}`;
  return `log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: 4
  datastores:
    default:${store('temporal', 10)}
    visibility:${store('temporal_visibility', 4)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"
services:${TEMPORAL_SERVICES.map(service).join('')}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "127.0.0.1:${ports.frontendGrpc}"
dcRedirectionPolicy:
  policy: "noop"
dynamicConfigClient:
  filepath: "config/dynamicconfig.yaml"
  pollInterval: "10s"
`;
}

/** What the dev server turns on by itself and a cluster is told: updates, update-with-start, eager starts. */
const DYNAMIC_CONFIG = `frontend.enableUpdateWorkflowExecution:
  - value: true
frontend.enableUpdateWorkflowExecutionAsyncAccepted:
  - value: true
frontend.enableExecuteMultiOperation:
  - value: true
system.enableEagerWorkflowStart:
  - value: true
system.forceSearchAttributesCacheRefreshOnRead:
  - value: true
`;

async function frontendReady(
  address: string,
  budgetMs: number,
  alive: () => string | undefined,
): Promise<Connection> {
  const deadline = Date.now() + budgetMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const dead = alive();
    if (dead) throw new Error(dead);
    try {
      return await Connection.connect({ address, connectTimeout: 2_000 });
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw new Error(`the Temporal frontend at ${address} was not ready within ${budgetMs} ms: ${String(last)}`);
}

/** Registers `namespace` if missing and waits until it answers, with our search attributes. */
async function ensureNamespace(connection: Connection, namespace: string, budgetMs: number): Promise<void> {
  const deadline = Date.now() + budgetMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      await connection.workflowService.describeNamespace({ namespace });
      await ensureSearchAttributes(connection, namespace);
      return;
    } catch (err) {
      last = err;
      await connection.workflowService
        .registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('3 days') })
        .catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
  throw new Error(`namespace ${namespace} not ready within ${budgetMs} ms: ${String(last)}`);
}

/**
 * Starts the four services on `dir` (config, logs) against the Postgres at `pgUrl`, with the
 * frontend on `port`, sets up the schema first, and registers the `default` namespace and our
 * search attributes.
 */
export async function startTemporalCluster(options: {
  dir: string;
  pgUrl: string;
  port: number;
  log: Log;
  logFile: string;
}): Promise<TemporalCluster> {
  const { dir, log } = options;
  const binaries = resolveTemporalServer(process.env, log);
  const pg = endpointOf(options.pgUrl);
  setupTemporalSchema(binaries, pg, log);
  const ports: Record<string, number> = { frontendGrpc: options.port };
  for (const name of [
    'frontendMembership',
    'frontendHttp',
    ...TEMPORAL_SERVICES.slice(1).flatMap((s) => [`${s}Grpc`, `${s}Membership`]),
  ])
    // Membership ports are kept in a smallint column: below 32768, not the ephemeral range.
    ports[name] = name.endsWith('Membership') ? await freePortIn(20_000, 32_000) : await freePort();
  const root = path.join(dir, 'temporal-server');
  mkdirSync(path.join(root, 'config'), { recursive: true });
  writeFileSync(path.join(root, 'config', 'cancelflow.yaml'), serverConfig(pg, ports), { mode: 0o600 });
  writeFileSync(path.join(root, 'config', 'dynamicconfig.yaml'), DYNAMIC_CONFIG);
  const address = `127.0.0.1:${options.port}`;
  const children = new Map<TemporalService, ChildProcess>();
  const killAll = (): void => {
    for (const c of children.values()) c.kill('SIGKILL');
  };
  process.on('exit', killAll);

  // Like an orchestrator, the cluster restarts a service that exits by itself (the frontend exits
  // when Postgres is down as it starts): 2 s later, counted. Planned kills are not restarted here.
  const held = new Set<TemporalService>();
  let stopping = false;
  const ownExits: Array<{ service: TemporalService; code: number | null; at: number }> = [];
  const launch = (service: TemporalService): void => {
    const out = createWriteStream(options.logFile, { flags: 'a' });
    out.write(`===== ${new Date().toISOString()} temporal-server start --service ${service} =====\n`);
    const c = spawn(
      binaries.server,
      [
        '--root',
        root,
        '--config',
        'config',
        '--env',
        'cancelflow',
        '--allow-no-auth',
        'start',
        '--service',
        service,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], cwd: root },
    );
    c.stdout?.pipe(out);
    c.stderr?.pipe(out);
    children.set(service, c);
    c.once('exit', (code) => {
      if (stopping || held.has(service) || children.get(service) !== c) return;
      ownExits.push({ service, code, at: Date.now() });
      log(`the Temporal ${service} service exited by itself (code ${code}); restarting it in 2 s`);
      setTimeout(() => {
        if (!stopping && !held.has(service) && children.get(service) === c) launch(service);
      }, 2_000).unref();
    });
  };
  const ready = async (budgetMs = 120_000): Promise<void> => {
    const connection = await frontendReady(address, budgetMs, () => undefined);
    try {
      await ensureNamespace(connection, 'default', budgetMs);
    } finally {
      await connection.close();
    }
  };
  const kill = async (service: TemporalService, signal: NodeJS.Signals): Promise<void> => {
    const c = children.get(service);
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill(signal);
    const timer = setTimeout(() => c.kill('SIGKILL'), 15_000);
    await gone;
    clearTimeout(timer);
  };
  /** Planned restarts one at a time: two faults never launch the same service twice. */
  let queue: Promise<void> = Promise.resolve();
  const serially = (step: () => Promise<void>): Promise<void> => {
    const next = queue.then(step, step);
    queue = next.catch(() => undefined);
    return next;
  };
  const crash = async (services: readonly TemporalService[], downS: number): Promise<void> => {
    for (const s of services) held.add(s);
    try {
      await Promise.all(services.map((s) => kill(s, 'SIGKILL')));
      await new Promise((r) => setTimeout(r, downS * 1000));
    } finally {
      for (const s of services) held.delete(s);
    }
    for (const s of services) launch(s);
    await ready();
  };
  for (const s of TEMPORAL_SERVICES) launch(s);
  try {
    await ready();
  } catch (err) {
    stopping = true;
    killAll();
    throw err;
  }
  log(
    `Temporal server ${TEMPORAL_SERVER_VERSION} up: frontend ${address}, history, matching and worker services on Postgres ${pg.host}:${pg.port}`,
  );
  return {
    address,
    databases: ['temporal', 'temporal_visibility'],
    pid: (service) => children.get(service)?.pid,
    ownExits: () => [...ownExits],
    restartService: (service, downS) => serially(() => crash([service], downS)),
    restart: (downS) => serially(() => crash(TEMPORAL_SERVICES, downS)),
    stop: async () => {
      stopping = true;
      await Promise.all(TEMPORAL_SERVICES.map((s) => kill(s, 'SIGTERM')));
      process.removeListener('exit', killAll);
    },
  };
}
