import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { PROVIDER_CALL_RECORD_BOUNDS, recordProviderCall } from '../../activities/adapters';
import { buildServer } from '../../api/server';
import { loadConfig, type UnifiedAccount } from '../../common/config';
import { createDb } from '../../common/db';
import { createLogger } from '../../common/logger';
import { Secret } from '../../common/secret';
import type { ExchangeRecord } from '../../providers/types';
import { startMetricsServer } from '../../worker/metrics-server';
import { connectTemporal, createTestDatabase, type TestDatabase, type TestTemporal } from '../helpers/stack';

/**
 * What reaches the API's ops endpoints and whose address it believes; where the worker's metrics
 * listen; and that recording a provider exchange gives up within its bounds instead of outliving
 * the activity.
 */

let database: TestDatabase;
let temporal: TestTemporal;
let dir: string;

beforeAll(async () => {
  [database, temporal] = await Promise.all([createTestDatabase(), connectTemporal()]);
  dir = mkdtempSync(path.join(os.tmpdir(), 'cf-ops-hardening-'));
});
afterAll(async () => {
  await temporal?.close();
  await database?.drop();
  rmSync(dir, { recursive: true, force: true });
});

let files = 0;
async function startApi(document: object, env: Record<string, string> = {}) {
  const configPath = path.join(dir, `config-${files++}.json`);
  writeFileSync(configPath, JSON.stringify(document));
  const config = loadConfig({
    env: { CANCELFLOW_CONFIG: configPath, DATABASE_URL: database.url, LOG_LEVEL: 'silent', ...env },
  });
  const app = await buildServer({
    config,
    db: database.db,
    temporal: temporal.connection,
    logger: createLogger('silent'),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

const UNKNOWN = 'C000000000000000000000';
const TOKEN = 'ops-token-for-the-hardening-suite';

async function ops(url: string, authorization?: string) {
  const res = await fetch(`${url}/ops/cancellations/${UNKNOWN}`, {
    headers: authorization ? { authorization } : {},
  });
  return { status: res.status, body: (await res.json()) as { error: string; message: string } };
}

test('/ready says which dependency is down, not why (no address, user or error text: it is unauthenticated)', async () => {
  const configPath = path.join(dir, 'config-ready.json');
  writeFileSync(configPath, '{}');
  const config = loadConfig({
    env: { CANCELFLOW_CONFIG: configPath, DATABASE_URL: database.url, LOG_LEVEL: 'silent' },
  });
  const unreachable = createDb('postgres://cf_secret_user:hunter2@127.0.0.1:1/cf_nowhere', { max: 1 });
  const app = await buildServer({
    config,
    db: unreachable,
    temporal: temporal.connection,
    logger: createLogger('silent'),
  });
  try {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    const res = await fetch(`http://127.0.0.1:${port}/ready`);
    const body = await res.text();
    expect(res.status).toBe(503);
    expect(JSON.parse(body)).toEqual({ status: 'not ready', postgres: 'unavailable', temporal: 'ok' });
    expect(body).not.toMatch(/cf_secret_user|127\.0\.0\.1|ECONNREFUSED|cf_nowhere/);
  } finally {
    await app.close();
    await unreachable.destroy();
  }
});

describe('ops endpoints', () => {
  test('without a token and not opened, every request is refused, loopback included', async () => {
    const api = await startApi({});
    try {
      const got = await ops(api.url);
      expect(got.status).toBe(401);
      expect(got.body.error).toBe('UNAUTHORIZED');
      expect(got.body.message).toMatch(/ops endpoints are closed: set CANCELFLOW_OPS_TOKEN/);
      expect((await ops(api.url, 'Bearer anything-at-all-here')).status).toBe(401);
      const list = await fetch(`${api.url}/ops/cancellations`);
      expect(list.status).toBe(401);
      const redeliver = await fetch(`${api.url}/ops/notifications/${UNKNOWN}/redeliver`, { method: 'POST' });
      expect(redeliver.status).toBe(401);
    } finally {
      await api.close();
    }
  });

  test('with a token, only that bearer token is let through', async () => {
    const api = await startApi({}, { CANCELFLOW_OPS_TOKEN: TOKEN });
    try {
      const none = await ops(api.url);
      expect(none.status).toBe(401);
      expect(none.body.message).toMatch(/ops token required/);
      expect((await ops(api.url, `Bearer ${TOKEN}x`)).status).toBe(401);
      expect((await ops(api.url, TOKEN)).status).toBe(401);
      const ok = await ops(api.url, `Bearer ${TOKEN}`);
      expect(ok.status).toBe(404);
      expect(ok.body.error).toBe('NOT_FOUND');
    } finally {
      await api.close();
    }
  });

  test('api.opsOpen opens them without a token; a configured token still applies', async () => {
    const open = await startApi({ api: { opsOpen: true } });
    try {
      expect((await ops(open.url)).status).toBe(404);
    } finally {
      await open.close();
    }
    const both = await startApi({ api: { opsOpen: true } }, { CANCELFLOW_OPS_TOKEN: TOKEN });
    try {
      expect((await ops(both.url)).status).toBe(401);
      expect((await ops(both.url, `Bearer ${TOKEN}`)).status).toBe(404);
    } finally {
      await both.close();
    }
  });
});

describe('trustProxy', () => {
  /** `x-ratelimit-remaining` of the northbound rate limit, which is kept per client address. */
  async function remainingFor(url: string, forwardedFor: string): Promise<number> {
    const res = await fetch(`${url}/api/pay/cancel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
      body: '{}',
    });
    await res.body?.cancel();
    return Number(res.headers.get('x-ratelimit-remaining'));
  }

  test('by default X-Forwarded-For is ignored: every client behind the proxy is the proxy', async () => {
    const api = await startApi({ api: { rateLimitPerMinute: 100 } });
    try {
      expect(await remainingFor(api.url, '203.0.113.1')).toBe(99);
      expect(await remainingFor(api.url, '203.0.113.2')).toBe(98);
    } finally {
      await api.close();
    }
  });

  test('with the proxy listed, the forwarded address is the client', async () => {
    const api = await startApi({ api: { rateLimitPerMinute: 100 }, http: { trustProxy: ['127.0.0.0/8'] } });
    try {
      expect(await remainingFor(api.url, '203.0.113.1')).toBe(99);
      expect(await remainingFor(api.url, '203.0.113.2')).toBe(99);
      expect(await remainingFor(api.url, '203.0.113.1')).toBe(98);
    } finally {
      await api.close();
    }
  });
});

describe('worker metrics', () => {
  /** 127.0.0.2 is loopback too, but reaches only a server bound to every address. */
  const reachable = (url: string) =>
    fetch(url).then(
      (r) => r.ok,
      () => false,
    );

  test('listen on 127.0.0.1 unless told otherwise', async () => {
    const metrics = await startMetricsServer({ port: 0 });
    try {
      const { port } = new URL(metrics.url);
      expect(await reachable(`http://127.0.0.1:${port}/metrics`)).toBe(true);
      expect(await reachable(`http://127.0.0.2:${port}/metrics`)).toBe(false);
    } finally {
      await metrics.close();
    }
    const everywhere = await startMetricsServer({ port: 0, host: '0.0.0.0' });
    try {
      const { port } = new URL(everywhere.url);
      expect(await reachable(`http://127.0.0.2:${port}/metrics`)).toBe(true);
    } finally {
      await everywhere.close();
    }
  });
});

describe('recording a provider exchange', () => {
  const CANCEL_ORDER_ID = 'C900000000000000000001';
  const account: UnifiedAccount = {
    id: 'unified-test',
    provider: 'unified',
    baseUrl: 'http://127.0.0.1:9',
    mchNo: 'M1',
    appId: 'a1',
    key: new Secret('k'),
  };
  const exchange: ExchangeRecord = {
    operation: 'cancel',
    url: 'http://127.0.0.1:9/api/cancel',
    request: { headers: {}, body: { mchOrderNo: 'O1' } },
    httpStatus: 200,
    responseBody: '{}',
    signature: 'valid',
    outcome: { kind: 'unknown', reason: 'test' },
    latencyMs: 12,
  };
  let attempt = 0;
  /** Each call is another activity attempt, so another row. */
  const record = (db: typeof database.db) =>
    new MockActivityEnvironment(
      {
        workflowExecution: { workflowId: 'cancel/hardening', runId: 'run-1' },
        activityId: '1',
        attempt: ++attempt,
      },
      { logger: new DefaultLogger('ERROR', () => undefined) },
    ).run(recordProviderCall, db, CANCEL_ORDER_ID, account, exchange);
  const rows = async () =>
    Number(
      (await database.db('provider_calls').where({ cancel_order_id: CANCEL_ORDER_ID }).count({ n: '*' }))[0]!
        .n,
    );

  beforeAll(async () => {
    await database.db('cancellations').insert({
      cancel_order_id: CANCEL_ORDER_ID,
      workflow_id: 'cancel/hardening',
      mch_no: 'M1',
      app_id: 'a1',
      account_id: account.id,
      provider: 'unified',
      order_ref: 'mch:O1',
      mch_order_no: 'O1',
    });
  });

  const bound = PROVIDER_CALL_RECORD_BOUNDS.acquireMs + PROVIDER_CALL_RECORD_BOUNDS.statementMs;

  test('with every pooled connection taken, it gives up within its bound and the pool recovers', async () => {
    const pool = createDb(database.url, { max: 1 });
    try {
      const busy = await pool.transaction();
      const started = Date.now();
      await expect(record(pool)).rejects.toMatchObject({ code: 'DB_BUSY' });
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(PROVIDER_CALL_RECORD_BOUNDS.acquireMs - 50);
      expect(waited).toBeLessThan(PROVIDER_CALL_RECORD_BOUNDS.acquireMs + 1_000);
      await busy.rollback();
      const before = await rows();
      await record(pool);
      expect(await rows()).toBe(before + 1);
    } finally {
      await pool.destroy();
    }
  }, 20_000);

  test('with the table locked, the insert is cancelled within its bound and leaves nothing behind', async () => {
    const pool = createDb(database.url, { max: 1 });
    const locker = await database.db.transaction();
    try {
      await locker.raw('LOCK TABLE provider_calls IN ACCESS EXCLUSIVE MODE');
      const before = Number(
        (await locker('provider_calls').where({ cancel_order_id: CANCEL_ORDER_ID }).count({ n: '*' }))[0]!.n,
      );
      const started = Date.now();
      await expect(record(pool)).rejects.toThrow(/timeout/i);
      expect(Date.now() - started).toBeLessThan(bound + 1_000);
      await locker.rollback();
      // Cancelled in Postgres, not merely abandoned: releasing the lock does not let it through.
      await pool.raw('select 1');
      expect(await rows()).toBe(before);
      await record(pool);
      expect(await rows()).toBe(before + 1);
    } finally {
      if (!locker.isCompleted()) await locker.rollback();
      await pool.destroy();
    }
  }, 20_000);
});
