import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger } from '@temporalio/worker';
import Table from 'cli-table3';
import { buildServer } from '../api/server';
import { createCancelflowClient } from '../client';
import { loadConfig } from '../common/config';
import { createDb, migrateLatest } from '../common/db';
import { createLogger } from '../common/logger';
import { md5Sign } from '../providers/unified/sign';
import { startStandaloneSandboxes, SANDBOX_APPS } from '../sandbox/standalone';
import { createReconcileWorkers, createWorker } from '../worker/create-worker';
import type { ReconciliationResult } from '../workflows/types';
import { freePort } from './ports';
import { ensureDatabase, startEmbeddedPostgres, withDatabase } from './postgres';
import { REPO_ROOT } from './stack';
import { startTemporalDevServer } from './temporal';

/**
 * `npm run bench`: its own Temporal dev server, embedded Postgres, sandboxes answering at once, one
 * in-process worker and API; prints a table and writes bench/results.json. Knobs: BENCH_N (2000),
 * BENCH_LEVELS ("20,100"), BENCH_RECON_ROWS (100000), BENCH_RECON_RATE (500 req/s),
 * BENCH_API_SECONDS (8), BENCH_API_CONCURRENCY (50).
 */

const env = process.env;
const N = Number(env.BENCH_N ?? 2_000);
const LEVELS = (env.BENCH_LEVELS ?? '20,100').split(',').map(Number);
const RECON_ROWS = Number(env.BENCH_RECON_ROWS ?? 100_000);
const RECON_RATE = Number(env.BENCH_RECON_RATE ?? 500);
const API_SECONDS = Number(env.BENCH_API_SECONDS ?? 8);
const API_CONCURRENCY = Number(env.BENCH_API_CONCURRENCY ?? 50);
const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function pool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await task(i);
      }
    }),
  );
  return out;
}

interface Run {
  label: string;
  concurrency: number;
  count: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
}

function summarise(label: string, concurrency: number, started: number, latencies: number[]): Run {
  const seconds = (performance.now() - started) / 1000;
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    label,
    concurrency,
    count: latencies.length,
    seconds: Number(seconds.toFixed(1)),
    perSecond: Number((latencies.length / seconds).toFixed(1)),
    p50: Math.round(percentile(sorted, 50)),
    p95: Math.round(percentile(sorted, 95)),
    p99: Math.round(percentile(sorted, 99)),
  };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cancelflow-bench-'));
  const [temporalPort, pgPort, apiPort] = await Promise.all([freePort(), freePort(), freePort()]);
  say('starting Temporal and Postgres ...');
  const [temporal, pg] = await Promise.all([
    startTemporalDevServer({ port: temporalPort, log: say }),
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
      accounts: (sandboxes.config.accounts as object[]).map((a) => ({
        ...a,
        rateLimitPerSecond: RECON_RATE,
      })),
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
  const logger = createLogger('silent');
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });
  const native = await NativeConnection.connect({ address: temporal.address });
  const deps = { db, config, logger, temporal: client };
  const common = { connection: native, namespace: 'default', taskQueue: config.temporal.taskQueue, deps };
  say('bundling workflows and starting the worker ...');
  const worker = await createWorker(common);
  const reconcilers = await createReconcileWorkers(common);
  const running = Promise.all([worker.run(), ...reconcilers.map((w) => w.run())]);
  const api = await buildServer({ config, db, temporal: connection, logger });
  await api.listen({ port: apiPort, host: '127.0.0.1' });
  const cancelflow = createCancelflowClient({
    client,
    config,
    ...(config.timings ? { timings: config.timings } : {}),
  });
  const app = SANDBOX_APPS.payby;
  const results: Record<string, unknown> = {
    machine: {
      cpus: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
    },
    at: new Date().toISOString(),
  };

  // 1 + 2. End to end vs the platform ceiling, at each concurrency level.
  const runs: Run[] = [];
  let sample: { workflowId: string; cancelOrderId: string } | undefined;
  for (const level of LEVELS) {
    say(`end to end: ${N} cancellations at concurrency ${level} ...`);
    let t = performance.now();
    const e2e = await pool(N, level, async (i) => {
      const t0 = performance.now();
      const started = await cancelflow.startCancellation({
        mchNo: app.mchNo,
        appId: app.appId,
        mchOrderNo: `B${level}-${i}`,
        notifyUrl,
      });
      await cancelflow.waitForResult(started.workflowId);
      await waitAck(started.cancelOrderId);
      sample ??= started;
      return performance.now() - t0;
    });
    runs.push(summarise('cancelflow', level, t, e2e));
    say(`ceiling: ${N} workflows of the same shape at concurrency ${level} ...`);
    t = performance.now();
    const ceiling = await pool(N, level, async (i) => {
      const t0 = performance.now();
      const id = `ceiling-${level}-${i}`;
      await client.workflow.execute('ceilingWorkflow', {
        workflowId: id,
        taskQueue: config.temporal.taskQueue,
        args: [id],
      });
      await client.workflow.getHandle(`ceiling-notify/${id}`).result();
      return performance.now() - t0;
    });
    runs.push(summarise('ceiling', level, t, ceiling));
  }
  results.endToEnd = runs;

  // 5. History events of one happy-path cancellation (and its notification child).
  if (sample) {
    const main = await client.workflow.getHandle(sample.workflowId).fetchHistory();
    const child = await client.workflow.getHandle(`notify/${sample.cancelOrderId}`).fetchHistory();
    results.history = { cancellation: main.events?.length ?? 0, notification: child.events?.length ?? 0 };
  }

  // 4. Northbound query endpoint vs a trivial route on the same server.
  const key = readFileSync(path.join(dir, 'sandbox', 'keys', 'payby-app.key'), 'utf8').trim();
  const queryBody = () => {
    const p: Record<string, string> = {
      mchNo: app.mchNo,
      appId: app.appId,
      cancelOrderId: sample?.cancelOrderId ?? 'C0',
      reqTime: String(Date.now()),
      version: '1.0',
      signType: 'MD5',
    };
    p.sign = md5Sign(p, key);
    return JSON.stringify(p);
  };
  const load = async (label: string, request: () => Promise<Response>) => {
    const latencies: number[] = [];
    const until = performance.now() + API_SECONDS * 1000;
    const t = performance.now();
    await Promise.all(
      Array.from({ length: API_CONCURRENCY }, async () => {
        while (performance.now() < until) {
          const t0 = performance.now();
          const res = await request();
          await res.arrayBuffer();
          if (!res.ok) throw new Error(`${label}: HTTP ${res.status}`);
          latencies.push(performance.now() - t0);
        }
      }),
    );
    return summarise(label, API_CONCURRENCY, t, latencies);
  };
  const base = `http://127.0.0.1:${apiPort}`;
  say(`northbound: /api/cancel/query and /health, ${API_CONCURRENCY} concurrent, ${API_SECONDS} s each ...`);
  const query = await load('/api/cancel/query', () =>
    fetch(`${base}/api/cancel/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: queryBody(),
    }),
  );
  const trivial = await load('/health', () => fetch(`${base}/health`));
  results.northbound = { query, trivial, ratio: Number((query.perSecond / trivial.perSecond).toFixed(2)) };

  // 3. Reconciliation of RECON_ROWS rows against the sandbox limited to RECON_RATE requests/s.
  say(`reconciliation: seeding ${RECON_ROWS} rows ...`);
  const at = new Date(Date.now() - 30 * 24 * 3_600_000);
  for (let from = 0; from < RECON_ROWS; from += 5_000) {
    const rows = [];
    for (let i = from; i < Math.min(RECON_ROWS, from + 5_000); i++) {
      sandboxes.payby.setOrder(`RB-${i}`, { status: 'FAILURE' });
      rows.push({
        cancel_order_id: `C2020010100000000${String(i).padStart(5, '0')}`.slice(0, 22),
        workflow_id: `cancel/payby-sandbox/mch:RB-${i}`,
        mch_no: app.mchNo,
        app_id: app.appId,
        account_id: 'payby-sandbox',
        provider: 'payby',
        order_ref: `mch:RB-${i}`,
        mch_order_no: `RB-${i}`,
        status: 'SUCCEEDED',
        state: 2,
        created_at: at,
        updated_at: at,
      });
    }
    await db.batchInsert('cancellations', rows, 1_000);
  }
  say(`reconciliation: ${RECON_ROWS} rows at ${RECON_RATE} req/s ...`);
  const rss: number[] = [];
  const rssStart = process.memoryUsage().rss;
  const sampler = setInterval(() => rss.push(process.memoryUsage().rss), 250);
  const t = performance.now();
  const recon = (await client.workflow.execute('reconciliationWorkflow', {
    workflowId: `bench-reconcile-${Date.now()}`,
    taskQueue: config.temporal.taskQueue,
    args: [
      {
        from: at.getTime() - 1,
        to: at.getTime() + 1,
        accountId: 'payby-sandbox',
        pageSize: 1_000,
        concurrency: 200,
        dryRun: true,
      },
    ],
  })) as ReconciliationResult;
  const seconds = (performance.now() - t) / 1000;
  clearInterval(sampler);
  const mib = (b: number) => Math.round(b / 2 ** 20);
  results.reconciliation = {
    rows: recon.total,
    seconds: Number(seconds.toFixed(1)),
    achievedPerSecond: Number((recon.total / seconds).toFixed(1)),
    limitPerSecond: RECON_RATE,
    ratio: Number((recon.total / seconds / RECON_RATE).toFixed(2)),
    rssStartMiB: mib(rssStart),
    rssPeakMiB: mib(Math.max(...rss, rssStart)),
    rssEndMiB: mib(process.memoryUsage().rss),
    counts: recon.counts,
  };

  // Output.
  const table = new Table({
    head: ['measure', 'concurrency', 'count', 'seconds', 'per second', 'p50 ms', 'p95 ms', 'p99 ms'],
  });
  for (const r of [...runs, query, trivial])
    table.push([r.label, r.concurrency, r.count, r.seconds, r.perSecond, r.p50, r.p95, r.p99]);
  process.stdout.write(`${table.toString()}\n`);
  const ratios = new Table({ head: ['ratio', 'value', 'target'] });
  for (const level of LEVELS) {
    const a = runs.find((r) => r.label === 'cancelflow' && r.concurrency === level)!;
    const b = runs.find((r) => r.label === 'ceiling' && r.concurrency === level)!;
    ratios.push([`cancelflow ÷ ceiling @${level}`, (a.perSecond / b.perSecond).toFixed(2), '≥ 0.6']);
  }
  const r = results.reconciliation as {
    ratio: number;
    achievedPerSecond: number;
    rssStartMiB: number;
    rssPeakMiB: number;
    rssEndMiB: number;
  };
  ratios.push([
    `reconciliation ÷ limit (${r.achievedPerSecond}/${RECON_RATE} per s)`,
    r.ratio.toFixed(2),
    '≥ 0.9',
  ]);
  ratios.push([
    'reconciliation RSS start / peak / end MiB',
    `${r.rssStartMiB} / ${r.rssPeakMiB} / ${r.rssEndMiB}`,
    'flat',
  ]);
  ratios.push(['query ÷ trivial route', String((results.northbound as { ratio: number }).ratio), '≥ 0.5']);
  const h = results.history as { cancellation: number; notification: number } | undefined;
  if (h)
    ratios.push([
      'history events per happy-path cancellation (+ notification child)',
      `${h.cancellation} (+ ${h.notification})`,
      '≤ 40',
    ]);
  process.stdout.write(`${ratios.toString()}\n`);
  mkdirSync(path.join(REPO_ROOT, 'bench'), { recursive: true });
  writeFileSync(path.join(REPO_ROOT, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  say('wrote bench/results.json');

  await api.close();
  worker.shutdown();
  for (const w of reconcilers) w.shutdown();
  await running;
  await native.close();
  await connection.close();
  receiver.close();
  await sandboxes.close();
  await db.destroy();
  await pg.stop();
  await temporal.stop();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
