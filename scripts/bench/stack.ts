/** The bench's stack: Temporal, Postgres, sandboxes, a notification receiver, the worker and the API. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createCancelflowClient } from '../../client';
import { loadConfig } from '../../common/config';
import { createDb, migrateLatest } from '../../common/db';
import { startStandaloneSandboxes, SANDBOX_APPS } from '../../sandbox/standalone';
import { freePort } from '../ports';
import { ensureDatabase, startEmbeddedPostgres, withDatabase } from '../postgres';
import { startTemporalDevServerOnFreePort } from '../temporal';
import { RECON_RATES, reconAccount, say } from './knobs';
import { startProcess } from './process';

export type BenchStack = Awaited<ReturnType<typeof startBenchStack>>;

/** Starts everything the measures run against; `stop()` takes it all down again. */
export async function startBenchStack() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cancelflow-bench-'));
  const [pgPort, apiPort] = await Promise.all([freePort(), freePort()]);
  say('starting Temporal and Postgres ...');
  const [temporal, pg] = await Promise.all([
    startTemporalDevServerOnFreePort({ log: say }),
    startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port: pgPort, persistent: false }),
  ]);
  await ensureDatabase(pg.url, 'bench');
  const databaseUrl = withDatabase(pg.url, 'bench');
  const db = createDb(databaseUrl, { max: 20 });
  await migrateLatest(db);

  const sandboxes = await startStandaloneSandboxes({ dir: path.join(dir, 'sandbox') });
  const acks = new Map<string, () => void>();
  const acked = new Set<string>();
  const receiver = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const id = new URLSearchParams(raw).get('cancelOrderId') ?? '';
      acked.add(id);
      acks.get(id)?.();
      res.end('success');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const notifyUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/n`;
  const waitAck = (id: string) =>
    acked.has(id) ? Promise.resolve() : new Promise<void>((resolve) => acks.set(id, resolve));

  const configPath = path.join(dir, 'sandbox', 'bench.config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      ...sandboxes.config,
      accounts: [
        ...(sandboxes.config.accounts as Array<{ id: string }>),
        // The same PayBy sandbox under one account per reconciliation rate ("max": a limit far
        // above anything this machine reaches).
        ...RECON_RATES.map((rate) => ({
          ...(sandboxes.config.accounts as Array<{ id: string }>).find(
            (a) => a.id === SANDBOX_APPS.payby.account,
          )!,
          id: reconAccount(rate),
          rateLimitPerSecond: Number.isFinite(rate) ? rate : 1_000_000,
        })),
      ],
      timings: {
        pollInitialMs: 200,
        pollMaxMs: 2_000,
        notificationScheduleMs: [0, 1_000, 2_000, 3_000, 4_000, 5_000],
      },
      api: { rateLimitPerMinute: 100_000_000, cancelWaitMs: 5_000 },
    }),
  );
  const config = loadConfig({
    env: {
      CANCELFLOW_CONFIG: configPath,
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporal.address,
      PORT: String(apiPort),
      LOG_LEVEL: 'silent',
    },
  });
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });
  say('starting the worker process (it bundles the workflows) ...');
  const serviceEnv = {
    CANCELFLOW_CONFIG: configPath,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: temporal.address,
    CANCELFLOW_METRICS_PORT: '0',
    PORT: String(apiPort),
    HOST: '127.0.0.1',
  };
  const worker = await startProcess(
    'worker/main.ts',
    { ...serviceEnv, LOG_LEVEL: 'info', CANCELFLOW_BENCH_WORKFLOWS: '1' },
    (out) => Promise.resolve(out.includes('"worker started"')),
  );
  // The API logs warnings only: per-request info lines would be part of what is measured.
  say('starting the API process ...');
  const api = await startProcess('api/main.ts', { ...serviceEnv, LOG_LEVEL: 'warn' }, () =>
    fetch(`http://127.0.0.1:${apiPort}/health`).then(
      (r) => r.ok,
      () => false,
    ),
  );
  const cancelflow = createCancelflowClient({
    client,
    config,
    ...(config.timings ? { timings: config.timings } : {}),
  });
  /** One request to the API: POST with a JSON body, or GET without one (node:http, keep-alive). */
  const callApi = (agent: http.Agent, route: string, body?: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: apiPort,
          path: route,
          method: body ? 'POST' : 'GET',
          agent,
          headers: body
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
            : {},
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  return {
    dir,
    db,
    sandboxes,
    notifyUrl,
    waitAck,
    config,
    client,
    worker,
    api,
    cancelflow,
    callApi,
    async stop(): Promise<void> {
      await api.stop();
      await worker.stop();
      await connection.close();
      receiver.close();
      await sandboxes.close();
      await db.destroy();
      await pg.stop();
      await temporal.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
