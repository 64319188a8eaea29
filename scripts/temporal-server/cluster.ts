/** Starting the four services as processes, waiting for the frontend and namespace, and restarting them. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { freePort, freePortIn } from '../ports';
import { ensureSearchAttributes } from '../temporal';
import { resolveTemporalServer, TEMPORAL_SERVER_VERSION } from './binaries';
import { DYNAMIC_CONFIG, serverConfig, TEMPORAL_SERVICES, type TemporalService } from './config';
import { endpointOf, setupTemporalSchema } from './schema';

type Log = (line: string) => void;

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
