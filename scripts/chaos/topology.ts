import { cpSync, mkdirSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { createDb, type Knex } from '../../common/db';
import { privateKeyFrom, publicKeyFrom } from '../../providers/payby/sign';
import { startPaybySandbox, type PaybySandbox } from '../../sandbox/payby';
import { startUnifiedSandbox, type UnifiedSandbox } from '../../sandbox/unified';
import { freePort } from '../ports';
import type { ChaosConfig } from './config';
import {
  startPostgres,
  startTemporal,
  startTemporalEngine,
  type PostgresServer,
  type TemporalServer,
} from './infra';
import type { MerchantApp } from './northbound';
import { REPO_ROOT } from './processes';
import { startProviderProxy, type ProviderProxy } from './proxy';
import { startReceiver, type Receiver } from './receiver';
import {
  GATEWAY,
  makeApps,
  makeKeys,
  superviseService,
  writeServiceConfig,
  type RunKeys,
  type Service,
} from './services';

/**
 * The chaos topology, started in order and torn down in reverse: Temporal (SQLite file) and
 * Postgres (persistent data directory), the two sandboxes, each behind its journalling proxy,
 * the merchant receiver, then two workers and two APIs (worker-i tells the Unified gateway to call
 * back api-i). `parts` fills in as things start, so a failed start still tears down what is up.
 */

export interface Topology {
  temporal: TemporalServer;
  postgres: PostgresServer;
  payby: PaybySandbox;
  unified: UnifiedSandbox;
  paybyProxy: ProviderProxy;
  unifiedProxy: ProviderProxy;
  receiver: Receiver;
  db: Knex;
  connection: Connection;
  workers: Service[];
  apis: Service[];
  apiUrls: string[];
  apps: MerchantApp[];
  keys: RunKeys;
}

export type TopologyParts = Partial<Topology> & { services: Service[] };

/** What the services need to run: the source folders and the files that configure the build. */
const CODE = [
  'activities',
  'api',
  'client',
  'common',
  'contract',
  'migrations',
  'providers',
  'sandbox',
  'scripts',
  'workflows',
  'worker',
  'package.json',
  'tsconfig.json',
];

/**
 * A copy of the code the services run, taken at start (node_modules linked): a process restarted by
 * the timeline runs the same code as the one it replaces, even when the checkout changes meanwhile
 * (a restarted worker on changed workflow code would fail runs with non-determinism errors that are
 * an upgrade hazard, not what the run measures). `CHAOS_SNAPSHOT=0` runs the checkout itself.
 */
export function snapshotCode(dir: string): string {
  const code = path.join(dir, 'code');
  mkdirSync(code, { recursive: true });
  for (const entry of CODE) cpSync(path.join(REPO_ROOT, entry), path.join(code, entry), { recursive: true });
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(code, 'node_modules'), 'dir');
  return code;
}

export async function teardownTopology(t: TopologyParts): Promise<void> {
  await Promise.allSettled(t.services.map((s) => s.stop()));
  await Promise.allSettled([t.db?.destroy(), t.connection?.close()]);
  await Promise.allSettled([t.temporal?.stop(), t.postgres?.stop()]);
  await Promise.allSettled([
    t.payby?.close(),
    t.unified?.close(),
    t.receiver?.close(),
    t.paybyProxy?.close(),
    t.unifiedProxy?.close(),
  ]);
}

export async function startTopology(
  cfg: ChaosConfig,
  parts: TopologyParts,
  log: (line: string) => void,
  ownSignals: () => void,
): Promise<Topology> {
  const [temporalPort, pgPort, api1, api2, receiverPort] = await Promise.all(
    Array.from({ length: 5 }, () => freePort()),
  );
  const keys = makeKeys();
  const apps = makeApps();
  log(
    `starting Temporal (${cfg.temporal === 'server' ? 'the server on Postgres' : 'dev server, file-backed'}), ` +
      'Postgres (persistent), the sandboxes and the receiver ...',
  );
  // The production engine keeps its state in the run's Postgres, beside ours: Postgres first.
  const postgresUp = startPostgres(cfg.dir, pgPort!, log, ownSignals).then((p) => (parts.postgres = p));
  const started = await Promise.allSettled([
    cfg.temporal === 'server'
      ? postgresUp.then((p) =>
          startTemporalEngine(cfg.dir, temporalPort!, p.adminUrl, log).then((t) => (parts.temporal = t)),
        )
      : startTemporal(cfg.dir, temporalPort!, log).then((t) => (parts.temporal = t)),
    postgresUp,
    startPaybySandbox({
      merchantPublicKey: publicKeyFrom(keys.merchantPublicPem),
      providerPrivateKey: privateKeyFrom(keys.providerPrivatePem),
      wrongPrivateKey: privateKeyFrom(keys.wrongPrivatePem),
    }).then((p) => (parts.payby = p)),
    startUnifiedSandbox({ ...GATEWAY, key: keys.gatewayKey, notifyScale: cfg.gatewayNotifyScale }).then(
      (u) => (parts.unified = u),
    ),
    startReceiver({ port: receiverPort! }).then((r) => (parts.receiver = r)),
  ]);
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  const { temporal, postgres, payby, unified, receiver } = parts as Required<TopologyParts>;
  parts.paybyProxy = await startProviderProxy(payby.url);
  parts.unifiedProxy = await startProviderProxy(unified.url);
  const { paybyProxy, unifiedProxy } = parts as Required<TopologyParts>;
  const db = (parts.db = createDb(postgres.url, { max: 4 }));
  const connection = (parts.connection = await Connection.connect({ address: temporal.address }));
  const configPath = writeServiceConfig({
    dir: cfg.dir,
    apps,
    keys,
    paybyUrl: paybyProxy.url,
    unifiedUrl: unifiedProxy.url,
    timings: cfg.timings,
  });
  const taskQueue = 'cancellations';
  const apiUrls = [`http://127.0.0.1:${api1}`, `http://127.0.0.1:${api2}`];
  const env = (publicUrl: string): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TMPDIR: os.tmpdir(),
    DATABASE_URL: postgres.url,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: 'default',
    CANCELFLOW_TASK_QUEUE: taskQueue,
    CANCELFLOW_CONFIG: configPath,
    PUBLIC_BASE_URL: publicUrl,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    CANCELFLOW_METRICS_PORT: '0',
    CHAOS_GATEWAY_KEY: keys.gatewayKey,
    CHAOS_WEBHOOK_SECRET: keys.webhookSecret,
    ...Object.fromEntries(apps.map((a) => [a.keyEnv, a.key])),
  });
  const logFile = (name: string) => path.join(cfg.dir, 'logs', `${name}.log`);
  const cwd = process.env.CHAOS_SNAPSHOT === '0' ? REPO_ROOT : snapshotCode(cfg.dir);
  const workers: Service[] = [];
  const apis: Service[] = [];
  for (let i = 0; i < 2; i++) {
    const common = { connection, taskQueue, log, env: env(apiUrls[i]!), cwd };
    const name = (kind: string) => `${kind}-${i + 1}`;
    workers.push(
      superviseService({ ...common, name: name('worker'), kind: 'worker', logFile: logFile(name('worker')) }),
    );
    apis.push(
      superviseService({
        ...common,
        name: name('api'),
        kind: 'api',
        port: i === 0 ? api1! : api2!,
        logFile: logFile(name('api')),
      }),
    );
    parts.services.push(workers[i]!, apis[i]!);
  }
  await Promise.all(parts.services.map((s) => s.ready()));
  log(
    `topology up: Temporal ${temporal.address} (${temporal.describe()}), Postgres ${postgres.dataDir}, ` +
      `APIs ${apiUrls.join(' ')}, PayBy ${paybyProxy.url}, Unified ${unifiedProxy.url}, receiver ${receiver.url}`,
  );
  return {
    temporal,
    postgres,
    payby,
    unified,
    paybyProxy,
    unifiedProxy,
    receiver,
    db,
    connection,
    workers,
    apis,
    apiUrls,
    apps,
    keys,
  };
}
