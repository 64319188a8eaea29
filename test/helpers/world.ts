import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { createReconcileWorkers } from '../../worker/create-worker';
import { buildServer } from '../../api/server';
import { createCancelflowClient, type CancelflowClient } from '../../client';
import { loadConfig, type Config } from '../../common/config';
import { createLogger } from '../../common/logger';
import { privateKeyFrom, publicKeyFrom } from '../../providers/payby/sign';
import { startPaybySandbox, type PaybySandbox } from '../../sandbox/payby';
import { startUnifiedSandbox, type UnifiedSandbox } from '../../sandbox/unified';
import type { CancellationTimings } from '../../contract/cancellation';
import {
  connectTemporal,
  createTestDatabase,
  createTestWorker,
  type TestDatabase,
  type TestTemporal,
} from './stack';

/**
 * Everything a cancellation touches, for real, on loopback: Postgres, Temporal with a worker of
 * this suite's own task queue, both provider sandboxes, the API (for provider callbacks), and
 * merchant receivers for notifications.
 */

const KEYS = path.resolve(__dirname, '..', 'fixtures', 'keys');
export const PAYBY_APP = { mchNo: 'M1623984572', appId: '60cc09bce4b0f1c0b83761c1', key: 'payby-app-key' };
export const UNIFIED_APP = {
  mchNo: 'M1623984573',
  appId: '60cc09bce4b0f1c0b83761c2',
  key: 'unified-app-key',
};
export const HOOKED_APP = {
  mchNo: 'M1623984574',
  appId: '60cc09bce4b0f1c0b83761c3',
  key: 'hooked-app-key',
  webhookSecret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
};
/** An app on a PayBy account whose key PayBy does not know: every cancel is refused as ours (applyStatus ERROR). */
export const BROKEN_APP = { mchNo: 'M1623984575', appId: '60cc09bce4b0f1c0b83761c4', key: 'broken-app-key' };
/** Apps whose paid orders are revoked same-day (REVOKE_APP) or also refunded (REFUND_APP), in UTC days. */
export const REVOKE_APP = { mchNo: 'M1623984576', appId: '60cc09bce4b0f1c0b83761c5', key: 'revoke-app-key' };
export const REFUND_APP = { mchNo: 'M1623984577', appId: '60cc09bce4b0f1c0b83761c6', key: 'refund-app-key' };
export const GATEWAY = { mchNo: 'M1621873433953', appId: '60cc09bce4b0f1c0b83761c9', key: 'gateway-key-123' };

/** Fast but real: every wait is a durable timer on the real server. */
export const FAST_TIMINGS: Partial<CancellationTimings> = {
  pollInitialMs: 20,
  pollMaxMs: 200,
  pollMultiplier: 2,
  deadlineMs: 60_000,
  unresolvedHoldMs: 1_000,
  notificationScheduleMs: [0, 30, 60, 90, 120, 150],
};

export interface Receiver {
  url: string;
  received: Array<{
    at: number;
    params: Record<string, string>;
    headers: http.IncomingHttpHeaders;
    raw: string;
  }>;
  close(): Promise<void>;
}

/**
 * A merchant endpoint. `answer(n)` gives the n-th (0-based) response body; the words `hang` and
 * `reset` mean no answer and a dropped connection.
 */
export async function startReceiver(answer: (n: number) => string): Promise<Receiver> {
  const received: Receiver['received'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const n = received.length;
      received.push({
        at: Date.now(),
        params: Object.fromEntries(new URLSearchParams(raw)),
        headers: req.headers,
        raw,
      });
      const a = answer(n);
      if (a === 'hang') return;
      if (a === 'reset') return req.socket.destroy();
      res.end(a);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/notify`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface World {
  database: TestDatabase;
  temporal: TestTemporal;
  config: Config;
  configPath: string;
  payby: PaybySandbox;
  unified: UnifiedSandbox;
  cancelflow: CancelflowClient;
  apiUrl: string;
  worker: Worker;
  /** Starts another worker on the same task queue (the first one may have been stopped). */
  startWorker(): Promise<{ worker: Worker; stop(): Promise<void> }>;
  stopWorker(): Promise<void>;
  close(): Promise<void>;
}

export async function createWorld(
  options: {
    notificationTimeoutMs?: number;
    rateLimitPerSecond?: number;
    /** How long a stopping reconciliation worker lets running pages go on before cancelling them. */
    reconcileShutdownGraceMs?: number;
    /** Add BROKEN_APP on a PayBy account signing with a key PayBy does not know. */
    brokenAccount?: boolean;
    /** Add REVOKE_APP and REFUND_APP (paid-order policies) on the PayBy account. */
    paidOrderApps?: boolean;
  } = {},
): Promise<World> {
  const pem = (name: string) => readFileSync(path.join(KEYS, name), 'utf8');
  const [database, temporal, payby, unified] = await Promise.all([
    createTestDatabase(),
    connectTemporal(),
    startPaybySandbox({
      merchantPublicKey: publicKeyFrom(pem('merchant-public.pem')),
      providerPrivateKey: privateKeyFrom(pem('provider-private.pem')),
      wrongPrivateKey: privateKeyFrom(pem('other-private.pem')),
    }),
    startUnifiedSandbox({ ...GATEWAY, notifyScale: 0.001 }),
  ]);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cancelflow-world-'));
  const configPath = path.join(dir, 'cancelflow.config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      apps: [
        { ...PAYBY_APP, account: 'payby-test' },
        { ...UNIFIED_APP, account: 'unified-test' },
        { ...HOOKED_APP, account: 'payby-test' },
        ...(options.brokenAccount ? [{ ...BROKEN_APP, account: 'payby-broken' }] : []),
        ...(options.paidOrderApps
          ? [
              { ...REVOKE_APP, account: 'payby-test', paidOrders: 'revoke', paidOrdersTimeZone: 'UTC' },
              {
                ...REFUND_APP,
                account: 'payby-test',
                paidOrders: 'revokeOrRefund',
                paidOrdersTimeZone: 'UTC',
              },
            ]
          : []),
      ],
      accounts: [
        {
          id: 'payby-test',
          provider: 'payby',
          baseUrl: payby.url,
          partnerId: '200000000888',
          privateKey: { file: path.join(KEYS, 'merchant-private.pem') },
          providerPublicKey: { file: path.join(KEYS, 'provider-public.pem') },
          responseTimeoutMs: 1_000,
          rateLimitPerSecond: options.rateLimitPerSecond ?? 500,
        },
        ...(options.brokenAccount
          ? [
              {
                id: 'payby-broken',
                provider: 'payby',
                baseUrl: payby.url,
                partnerId: '200000000999',
                privateKey: { file: path.join(KEYS, 'other-private.pem') },
                providerPublicKey: { file: path.join(KEYS, 'provider-public.pem') },
                responseTimeoutMs: 1_000,
              },
            ]
          : []),
        {
          id: 'unified-test',
          provider: 'unified',
          baseUrl: unified.url,
          ...GATEWAY,
          responseTimeoutMs: 1_000,
          rateLimitPerSecond: options.rateLimitPerSecond ?? 500,
        },
      ],
      notifications: { allowPrivateNetworks: true, timeoutMs: options.notificationTimeoutMs ?? 1_000 },
      // The test world's API is on loopback for this suite only; ops-hardening.test.ts covers the token.
      api: { opsOpen: true },
    }),
  );
  const configWithPort = (port: number) =>
    loadConfig({
      env: {
        CANCELFLOW_CONFIG: configPath,
        DATABASE_URL: database.url,
        CANCELFLOW_TASK_QUEUE: temporal.taskQueue,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
      },
    });
  const logger = createLogger('silent');
  // The API listens first, on a port the system picks (one picked in advance can be taken by a
  // parallel suite); the configuration everything else runs on is then loaded with that port, so
  // the gateway's callbacks are addressed to it. Nothing is changed after it is loaded.
  const api = await buildServer({
    config: configWithPort(0),
    db: database.db,
    temporal: temporal.connection,
    logger,
    timings: FAST_TIMINGS,
  });
  await api.listen({ port: 0, host: '127.0.0.1' });
  const apiPort = (api.server.address() as AddressInfo).port;
  const config = configWithPort(apiPort);
  const deps = { db: database.db, config, logger };
  const activities = createActivities(deps);

  // The cancellation worker plus one rate-limited reconciliation worker per account, like worker/main.ts.
  const startWorker = async () => {
    const worker = await createTestWorker(temporal, { activities });
    const reconcilers = await createReconcileWorkers({
      connection: temporal.nativeConnection,
      namespace: temporal.namespace,
      taskQueue: temporal.taskQueue,
      deps,
      ...(options.reconcileShutdownGraceMs !== undefined
        ? { overrides: { shutdownGraceTime: options.reconcileShutdownGraceMs } }
        : {}),
    });
    const running = Promise.all([worker.run(), ...reconcilers.map((w) => w.run())]);
    return {
      worker,
      stop: async () => {
        worker.shutdown();
        for (const r of reconcilers) r.shutdown();
        await running;
      },
    };
  };
  let current = await startWorker();

  const world: World = {
    database,
    temporal,
    config,
    configPath,
    payby,
    unified,
    cancelflow: createCancelflowClient({ client: temporal.client, config, timings: FAST_TIMINGS }),
    apiUrl: `http://127.0.0.1:${apiPort}`,
    get worker() {
      return current.worker;
    },
    startWorker: async () => {
      const started = await startWorker();
      current = started;
      return started;
    },
    stopWorker: () => current.stop(),
    close: async () => {
      await api.close();
      if (current.worker.getState() === 'RUNNING') await current.stop();
      await Promise.all([payby.close(), unified.close()]);
      await temporal.close();
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return world;
}

/** Polls `check` until it returns a truthy value. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
