/** 4. Northbound: the query endpoint (terminal and pending rows) vs a trivial route on the same server. */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { signEnvelope } from '../../providers/unified/sign';
import { SANDBOX_APPS } from '../../sandbox/standalone';
import { API_CONCURRENCY, API_SECONDS, API_WARMUP_SECONDS, say } from './knobs';
import { cancellationRow } from './rows';
import type { BenchStack } from './stack';
import { summarise, type Run } from './stats';

export interface Northbound {
  query: Run;
  queryPending: Run;
  trivial: Run;
  ratio: number;
  ratioPending: number;
  /**
   * The API process's CPU per answered request, µs (user + system, from /proc), and /health's
   * divided by each query's: what each route costs the API whether or not the load generator,
   * which shares the cores, kept it busy. A ratio of requests/s reads high when /health's rate is
   * held down by the generator rather than by the API.
   */
  apiCpuMicros: { query: number; queryPending: number; trivial: number };
  costRatio: number;
  costRatioPending: number;
}

/** 4. Northbound query endpoint vs a trivial route on the same server. */
export async function measureNorthbound(
  stack: BenchStack,
  sample: { workflowId: string; cancelOrderId: string } | undefined,
): Promise<Northbound> {
  const { dir, db, callApi } = stack;
  const app = SANDBOX_APPS.payby;
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
  /** API_CONCURRENCY clients sending for `seconds`; every answer checked, latencies kept. */
  const drive = async (
    label: string,
    send: () => ReturnType<typeof request>,
    expected: string,
    seconds: number,
  ) => {
    const latencies: number[] = [];
    const until = performance.now() + seconds * 1000;
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
    return latencies;
  };
  // Each route is warmed up unmeasured first, so none pays for the JIT or for what the pass
  // before it left running (the end-to-end pass's last notifications and callbacks).
  const cpuMicros = new Map<string, number>();
  const load = async (label: string, send: () => ReturnType<typeof request>, expected: string) => {
    if (API_WARMUP_SECONDS > 0) await drive(label, send, expected, API_WARMUP_SECONDS);
    const t = performance.now();
    const cpuBefore = stack.api.cpuSeconds();
    const latencies = await drive(label, send, expected, API_SECONDS);
    cpuMicros.set(label, Math.round(((stack.api.cpuSeconds() - cpuBefore) * 1e6) / latencies.length));
    return summarise(label, API_CONCURRENCY, t, latencies);
  };
  say(
    `northbound: /api/cancel/query and /health, ${API_CONCURRENCY} concurrent, ${API_SECONDS} s each after ${API_WARMUP_SECONDS} s unmeasured ...`,
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
  const apiCpuMicros = {
    query: cpuMicros.get(query.label)!,
    queryPending: cpuMicros.get(queryPending.label)!,
    trivial: cpuMicros.get(trivial.label)!,
  };
  return {
    query,
    queryPending,
    trivial,
    ratio: Number((query.perSecond / trivial.perSecond).toFixed(2)),
    ratioPending: Number((queryPending.perSecond / trivial.perSecond).toFixed(2)),
    apiCpuMicros,
    costRatio: Number((apiCpuMicros.trivial / apiCpuMicros.query).toFixed(2)),
    costRatioPending: Number((apiCpuMicros.trivial / apiCpuMicros.queryPending).toFixed(2)),
  };
}
