import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import Table from 'cli-table3';
import { createCancelflowClient } from '../client';
import { loadConfig } from '../common/config';
import { createDb, migrateLatest } from '../common/db';
import { signEnvelope } from '../providers/unified/sign';
import { startStandaloneSandboxes, SANDBOX_APPS } from '../sandbox/standalone';
import type { ReconciliationResult } from '../contract/reconciliation';
import { freePort } from './ports';
import { ensureDatabase, startEmbeddedPostgres, withDatabase } from './postgres';
import { REPO_ROOT } from './stack';
import { startTemporalDevServerOnFreePort } from './temporal';

/**
 * `npm run bench`: its own Temporal dev server, embedded Postgres, sandboxes answering at once, one
 * worker process (worker/main.ts, as in production, so its memory is its own) and an in-process
 * API; prints a table and writes bench/results.json. Knobs: BENCH_N (2000), BENCH_LEVELS
 * ("20,100"), BENCH_RECON_ROWS (100000), BENCH_RECON_RATE ("500"; a list, "max" = unlimited), BENCH_API_SECONDS (8),
 * BENCH_API_CONCURRENCY (50), BENCH_PARTS ("e2e,api,recon": which measures to run),
 * BENCH_PROFILE_DIR (CPU profiles of the worker and API processes).
 */

const env = process.env;
const N = Number(env.BENCH_N ?? 2_000);
const LEVELS = (env.BENCH_LEVELS ?? '20,100').split(',').map(Number);
const RECON_ROWS = Number(env.BENCH_RECON_ROWS ?? 100_000);
/** Requests/s; "max" = no limit (what this machine can do at all). One pass, on its own account, per rate. */
const RECON_RATES = (env.BENCH_RECON_RATE ?? '500')
  .split(',')
  .map((r) => (r === 'max' ? Infinity : Number(r)));
const reconAccount = (rate: number) => `payby-recon-${Number.isFinite(rate) ? rate : 'max'}`;
const API_SECONDS = Number(env.BENCH_API_SECONDS ?? 8);
const API_CONCURRENCY = Number(env.BENCH_API_CONCURRENCY ?? 50);
const PARTS = new Set((env.BENCH_PARTS ?? 'e2e,api,recon').split(','));
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

/**
 * A production entry point (worker/main.ts, api/main.ts) as a child process, so its CPU and
 * memory are its own; ready when `ready(output)` says so. RSS is read from /proc.
 */
async function startProcess(
  entry: string,
  childEnv: Record<string, string>,
  ready: (output: string) => Promise<boolean>,
) {
  // BENCH_PROFILE_DIR: each process writes a V8 CPU profile there on exit (scripts/profile-summary.ts reads it).
  const profile = env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${env.BENCH_PROFILE_DIR}`] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', path.join(REPO_ROOT, entry)], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...childEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) =>
    child.on('exit', (code) => {
      exitCode = code;
      resolve();
    }),
  );
  let output = '';
  const keep = (c: Buffer) => (output = (output + c.toString()).slice(-8_000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  for (;;) {
    if (exitCode !== undefined)
      throw new Error(`${entry} exited (${exitCode}) before it was ready:\n${output}`);
    if (await ready(output)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    rss(): number {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024;
    },
    async stop(): Promise<void> {
      if (exitCode === undefined) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A PayBy sandbox cancellation row as a workflow would have left it. */
function cancellationRow(
  cancelOrderId: string,
  account: string,
  order: string,
  status: string,
  state: number,
) {
  const app = SANDBOX_APPS.payby;
  return {
    cancel_order_id: cancelOrderId,
    workflow_id: `cancel/${account}/mch:${order}`,
    mch_no: app.mchNo,
    app_id: app.appId,
    account_id: account,
    provider: 'payby',
    order_ref: `mch:${order}`,
    mch_order_no: order,
    status,
    state,
  };
}

async function main(): Promise<void> {
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
  /** Time from the request to the merchant's answer (POST /api/pay/cancel), apart from the end to end. */
  const answers: Array<Omit<Run, 'seconds' | 'perSecond'> & { resends: number }> = [];
  let resends = 0;
  const answerMs: number[] = [];
  let sample: { workflowId: string; cancelOrderId: string } | undefined;
  // The cancellation path through the real API, both providers at once (every other request).
  const appKeys = {
    payby: readFileSync(path.join(dir, 'sandbox', 'keys', 'payby-app.key'), 'utf8').trim(),
    unified: readFileSync(path.join(dir, 'sandbox', 'keys', 'unified-app.key'), 'utf8').trim(),
  };
  const cancelAgent = new http.Agent({ keepAlive: true, maxSockets: Math.max(...LEVELS) });
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
  for (const level of PARTS.has('e2e') ? LEVELS : []) {
    say(`end to end: ${N} cancellations through the API (PayBy and Unified) at concurrency ${level} ...`);
    let t = performance.now();
    const e2eStarted = t;
    const e2e = await pool(N, level, async (i) => {
      const provider = i % 2 === 0 ? 'payby' : 'unified';
      const order =
        provider === 'payby'
          ? { mchOrderNo: `B${level}-${i}` }
          : { payOrderId: sandboxes.unified.setOrder({}) };
      const body = JSON.stringify(
        signEnvelope(SANDBOX_APPS[provider], appKeys[provider], { ...order, notifyUrl }),
      );
      const t0 = performance.now();
      // A merchant told "ask again" (503: not recorded within the API's wait) sends the same
      // request again, as seed 000's callers do; the answer time runs from the first send.
      let res = await callApi(cancelAgent, '/api/pay/cancel', body);
      for (let again = 0; res.status === 503 && again < 20; again += 1) {
        resends += 1;
        await new Promise((r) => setTimeout(r, 200));
        res = await callApi(cancelAgent, '/api/pay/cancel', body);
      }
      answerMs.push(performance.now() - t0);
      const answer = JSON.parse(res.text) as { code: number; msg: string; data?: { cancelOrderId: string } };
      // A refusal would measure the wrong thing: stop.
      if (res.status !== 200 || answer.code !== 0 || !answer.data)
        throw new Error(`/api/pay/cancel: HTTP ${res.status} ${res.text.slice(0, 200)}`);
      await waitAck(answer.data.cancelOrderId);
      if (!sample && provider === 'payby') {
        const { workflowId } = await cancelflow.getCancellation(answer.data.cancelOrderId);
        sample = { workflowId, cancelOrderId: answer.data.cancelOrderId };
      }
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
    for (const unit of ['unitActivityWorkflow', 'unitLocalActivityWorkflow'] as const) {
      say(`platform unit: ${N} ${unit} at concurrency ${level} ...`);
      t = performance.now();
      const units = await pool(N, level, async (i) => {
        const t0 = performance.now();
        const id = `${unit}-${level}-${i}`;
        await client.workflow.execute(unit, {
          workflowId: id,
          taskQueue: config.temporal.taskQueue,
          args: [id],
        });
        return performance.now() - t0;
      });
      runs.push(
        summarise(unit === 'unitActivityWorkflow' ? '1 activity' : '1 local activity', level, t, units),
      );
    }
    // Latencies only: these answers came during the end-to-end pass, whose rate is above.
    const { p50, p95, p99, count } = summarise('merchant answer', level, e2eStarted, answerMs.splice(0));
    answers.push({ label: 'merchant answer', concurrency: level, count, p50, p95, p99, resends });
    resends = 0;
  }
  results.endToEnd = runs;
  results.merchantAnswer = answers;

  // 5. History events of one happy-path cancellation (and its notification child).
  if (sample) {
    const main = await client.workflow.getHandle(sample.workflowId).fetchHistory();
    // Lean runs make the first notification attempt themselves: a child only after a failure.
    const child = await client.workflow
      .getHandle(`notify/${sample.cancelOrderId}`)
      .fetchHistory()
      .catch(() => ({ events: [] }));
    const unitEvents = async (workflowId: string) =>
      (await client.workflow.getHandle(workflowId).fetchHistory()).events?.length ?? 0;
    results.history = {
      cancellation: main.events?.length ?? 0,
      notification: child.events?.length ?? 0,
      unitActivity: await unitEvents(`unitActivityWorkflow-${LEVELS[0]}-0`),
      unitLocalActivity: await unitEvents(`unitLocalActivityWorkflow-${LEVELS[0]}-0`),
    };
  }

  // 4. Northbound query endpoint vs a trivial route on the same server.
  let northbound:
    { query: Run; queryPending: Run; trivial: Run; ratio: number; ratioPending: number } | undefined;
  if (PARTS.has('api')) {
    const key = readFileSync(path.join(dir, 'sandbox', 'keys', 'payby-app.key'), 'utf8').trim();
    // Two real rows to read: a terminal one (the sample cancellation, or one written for the
    // purpose), whose answer the API may keep, and a pending one, read from Postgres every time.
    const seedRow = async (cancelOrderId: string, order: string, status: string, state: number) => {
      await db('cancellations').insert(cancellationRow(cancelOrderId, 'payby-sandbox', order, status, state));
      return cancelOrderId;
    };
    const terminalId =
      sample?.cancelOrderId ?? (await seedRow('C20200101000000000001', 'API-1', 'SUCCEEDED', 2));
    const pendingId = await seedRow('C20200101000000000002', 'API-2', 'PENDING', 1);
    const queryBody = (cancelOrderId: string) => JSON.stringify(signEnvelope(app, key, { cancelOrderId }));
    // node:http with a keep-alive agent: the lightest client at hand, since the load generator
    // shares the two cores with the API it measures.
    const agent = new http.Agent({ keepAlive: true, maxSockets: API_CONCURRENCY });
    const request = (route: string, body?: string) => callApi(agent, route, body);
    const load = async (label: string, send: () => ReturnType<typeof request>, expected: string) => {
      const latencies: number[] = [];
      const until = performance.now() + API_SECONDS * 1000;
      const t = performance.now();
      await Promise.all(
        Array.from({ length: API_CONCURRENCY }, async () => {
          while (performance.now() < until) {
            const t0 = performance.now();
            const res = await send();
            // A refusal (bad signature, stale reqTime) would measure the wrong thing: stop.
            if (res.status !== 200 || !res.text.startsWith(expected))
              throw new Error(`${label}: HTTP ${res.status} ${res.text.slice(0, 200)}`);
            latencies.push(performance.now() - t0);
          }
        }),
      );
      return summarise(label, API_CONCURRENCY, t, latencies);
    };
    say(
      `northbound: /api/cancel/query and /health, ${API_CONCURRENCY} concurrent, ${API_SECONDS} s each ...`,
    );
    const query = await load(
      '/api/cancel/query (terminal)',
      () => request('/api/cancel/query', queryBody(terminalId)),
      '{"code":0,"msg":"SUCCESS","data":{',
    );
    const queryPending = await load(
      '/api/cancel/query (pending)',
      () => request('/api/cancel/query', queryBody(pendingId)),
      '{"code":0,"msg":"SUCCESS","data":{',
    );
    const trivial = await load('/health', () => request('/health'), '{"status":"ok"}');
    agent.destroy();
    northbound = {
      query,
      queryPending,
      trivial,
      ratio: Number((query.perSecond / trivial.perSecond).toFixed(2)),
      ratioPending: Number((queryPending.perSecond / trivial.perSecond).toFixed(2)),
    };
    results.northbound = northbound;
  }

  // 3. Reconciliation of RECON_ROWS rows against PayBy limited to each rate in turn.
  type ReconRun = {
    rows: number;
    seconds: number;
    achievedPerSecond: number;
    limitPerSecond: number | 'max';
    ratio: number | null;
    providerAnswered: number;
    providerRefused: number;
    workerRssStartMiB: number;
    workerRssPeakMiB: number;
    workerRssEndMiB: number;
    workerRssPeakByFifthMiB: number[];
    counts: Record<string, number>;
  };
  const reconciliation: ReconRun[] = [];
  for (const [pass, rate] of (PARTS.has('recon') ? RECON_RATES : []).entries()) {
    const account = reconAccount(rate);
    const label = Number.isFinite(rate) ? `${rate} req/s` : 'no limit';
    say(`reconciliation (${label}): seeding ${RECON_ROWS} rows ...`);
    const at = new Date(Date.now() - (30 + pass) * 24 * 3_600_000);
    for (let from = 0; from < RECON_ROWS; from += 5_000) {
      const rows = [];
      for (let i = from; i < Math.min(RECON_ROWS, from + 5_000); i++) {
        const order = `R${pass}-${i}`;
        sandboxes.payby.setOrder(order, { status: 'FAILURE' });
        rows.push({
          ...cancellationRow(
            `C20200101${pass}${String(i).padStart(12, '0')}`,
            account,
            order,
            'SUCCEEDED',
            2,
          ),
          created_at: at,
          updated_at: at,
        });
      }
      await db.batchInsert('cancellations', rows, 1_000);
    }
    say(`reconciliation (${label}): ${RECON_ROWS} rows, PayBy and the account both limited to it ...`);
    sandboxes.payby.setRateLimit(Number.isFinite(rate) ? rate : undefined);
    const before = { ...sandboxes.payby.stats };
    const rss: number[] = [];
    const rssStart = worker.rss();
    const sampler = setInterval(() => rss.push(worker.rss()), 250);
    const t = performance.now();
    const recon = (await client.workflow.execute('reconciliationWorkflow', {
      workflowId: `bench-reconcile-${account}-${Date.now()}`,
      taskQueue: config.temporal.taskQueue,
      args: [
        {
          from: at.getTime() - 1,
          to: at.getTime() + 1,
          accountId: account,
          pageSize: 1_000,
          concurrency: 200,
          dryRun: true,
        },
      ],
    })) as ReconciliationResult;
    const seconds = (performance.now() - t) / 1000;
    clearInterval(sampler);
    sandboxes.payby.setRateLimit(undefined);
    const mib = (b: number) => Math.round(b / 2 ** 20);
    // Peak RSS in each fifth of the run: flat memory shows as equal fifths.
    const fifths = Array.from({ length: 5 }, (_, k) =>
      mib(Math.max(...rss.slice(Math.floor((k * rss.length) / 5), Math.floor(((k + 1) * rss.length) / 5)))),
    );
    reconciliation.push({
      rows: recon.total,
      seconds: Number(seconds.toFixed(1)),
      achievedPerSecond: Number((recon.total / seconds).toFixed(1)),
      limitPerSecond: Number.isFinite(rate) ? rate : 'max',
      ratio: Number.isFinite(rate) ? Number((recon.total / seconds / rate).toFixed(2)) : null,
      providerAnswered: sandboxes.payby.stats.answered - before.answered,
      providerRefused: sandboxes.payby.stats.rateLimited - before.rateLimited,
      workerRssStartMiB: mib(rssStart),
      workerRssPeakMiB: mib(Math.max(...rss, rssStart)),
      workerRssEndMiB: mib(worker.rss()),
      workerRssPeakByFifthMiB: fifths,
      counts: recon.counts,
    });
  }
  if (reconciliation.length > 0) results.reconciliation = reconciliation;

  // Output.
  const table = new Table({
    head: ['measure', 'concurrency', 'count', 'seconds', 'per second', 'p50 ms', 'p95 ms', 'p99 ms'],
  });
  for (const r of [
    ...runs,
    ...(northbound ? [northbound.query, northbound.queryPending, northbound.trivial] : []),
  ])
    table.push([r.label, r.concurrency, r.count, r.seconds, r.perSecond, r.p50, r.p95, r.p99]);
  process.stdout.write(`${table.toString()}\n`);
  const ratios = new Table({ head: ['ratio', 'value', 'target'] });
  // Issue 17's ratios, against the platform's own units measured in the same run (results.ratios).
  const ratioOf: Record<string, number> = {};
  for (const level of PARTS.has('e2e') ? LEVELS : []) {
    const a = runs.find((r) => r.label === 'cancelflow' && r.concurrency === level)!;
    const b = runs.find((r) => r.label === 'ceiling' && r.concurrency === level)!;
    ratios.push([`cancelflow ÷ ceiling @${level}`, (a.perSecond / b.perSecond).toFixed(2), '-']);
    for (const unit of ['1 activity', '1 local activity']) {
      const u = runs.find((r) => r.label === unit && r.concurrency === level)!;
      const ratio = Number((a.perSecond / u.perSecond).toFixed(2));
      ratioOf[`throughput ÷ ${unit} @${level}`] = ratio;
      ratios.push([
        `cancelflow ÷ ${unit} @${level}`,
        ratio.toFixed(2),
        unit === '1 activity' ? '≥ 0.6' : '-',
      ]);
    }
    const m = answers.find((r) => r.concurrency === level)!;
    const unit = runs.find((r) => r.label === '1 activity' && r.concurrency === level)!;
    const answerRatio = Number((m.p50 / unit.p50).toFixed(2));
    ratioOf[`merchant answer p50 ÷ 1 activity p50 @${level}`] = answerRatio;
    ratios.push([
      `merchant answer p50 ÷ 1 activity p50 @${level} (${m.p50} / ${unit.p50} ms; p99 ${m.p99}; ${m.resends} re-sent)`,
      answerRatio.toFixed(2),
      level === LEVELS[0] ? '≤ 2' : '-',
    ]);
  }
  for (const r of reconciliation) {
    ratios.push([
      r.ratio === null
        ? `reconciliation with no limit: ${r.achievedPerSecond} per s (this machine's ceiling)`
        : `reconciliation ÷ limit (${r.achievedPerSecond}/${r.limitPerSecond} per s; provider refused ${r.providerRefused})`,
      r.ratio === null ? '-' : r.ratio.toFixed(2),
      r.ratio === null ? '-' : '≥ 0.9',
    ]);
    ratios.push([
      `worker RSS start / peak / end MiB (peak per fifth), ${r.rows} rows`,
      `${r.workerRssStartMiB} / ${r.workerRssPeakMiB} / ${r.workerRssEndMiB} (${r.workerRssPeakByFifthMiB.join(', ')})`,
      'flat',
    ]);
  }
  if (northbound) {
    ratioOf['terminal query ÷ /health'] = northbound.ratio;
    ratioOf['pending query ÷ /health'] = northbound.ratioPending;
    ratios.push(['query of a terminal cancellation ÷ trivial route', String(northbound.ratio), '≥ 0.8']);
    ratios.push([
      'query of a pending cancellation ÷ trivial route',
      String(northbound.ratioPending),
      '≥ 0.7',
    ]);
  }
  const h = results.history as
    | { cancellation: number; notification: number; unitActivity: number; unitLocalActivity: number }
    | undefined;
  if (h)
    ratios.push(
      [
        'history events per happy-path cancellation (+ notification child)',
        `${h.cancellation} (+ ${h.notification})`,
        '≤ 25 incl. the first attempt',
      ],
      [
        'history events of the units (1 activity / 1 local activity)',
        `${h.unitActivity} / ${h.unitLocalActivity}`,
        '-',
      ],
    );
  process.stdout.write(`${ratios.toString()}\n`);
  // The keys of record (issue 17): the units, the cancellation path, the ratios between them.
  results.units = runs.filter((r) => r.label === '1 activity' || r.label === '1 local activity');
  results.cancellation = {
    endToEnd: runs.filter((r) => r.label === 'cancelflow'),
    merchantAnswer: answers,
  };
  results.ratios = ratioOf;
  mkdirSync(path.join(REPO_ROOT, 'bench'), { recursive: true });
  writeFileSync(path.join(REPO_ROOT, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  say('wrote bench/results.json');

  await api.stop();
  await worker.stop();
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
