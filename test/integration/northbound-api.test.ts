import { applyTransition } from '../../activities/cancellation';
import { buildServer } from '../../api/server';
import { queryCacheTotal } from '../../common/metrics';
import { createLogger } from '../../common/logger';
import { signEnvelope, verifyMd5Sign } from '../../providers/unified/sign';
import {
  createWorld,
  eventually,
  PAYBY_APP,
  startReceiver,
  UNIFIED_APP,
  type Receiver,
  type World,
} from '../helpers/world';

let world: World;
let merchant: Receiver;

beforeAll(async () => {
  [world, merchant] = await Promise.all([createWorld(), startReceiver(() => 'success')]);
});
afterAll(async () => {
  await merchant?.close();
  await world?.close();
});

type App = { mchNo: string; appId: string; key: string };

function signed(
  app: App,
  fields: Record<string, string | number>,
  key = app.key,
): Record<string, string | number> {
  // reqTime as a JSON number, as many merchants send it.
  return signEnvelope(app, key, { reqTime: Date.now(), ...fields });
}

async function post(path: string, body: string, contentType = 'application/json') {
  const res = await fetch(`${world.apiUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  });
  const text = await res.text();
  let json: { code: number; msg: string; data?: Record<string, unknown>; sign?: string } | undefined;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json: json!, text };
}
const postJson = (path: string, params: unknown) => post(path, JSON.stringify(params));
const postForm = (path: string, params: Record<string, string | number>) =>
  post(
    path,
    new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString(),
    'application/x-www-form-urlencoded',
  );

const countRows = async () => Number((await world.database.db('cancellations').count({ n: '*' }).first())!.n);

describe('POST /api/pay/cancel and /api/cancel/query as seed 000 specifies', () => {
  test('a JSON cancel through PayBy: code 0, signed data, the same cancel order on a repeat, the notification delivered', async () => {
    world.payby.setOrder('NB-1', { status: 'CREATED', amount: 4.35, currency: 'AED' });
    const request = signed(PAYBY_APP, { mchOrderNo: 'NB-1', notifyUrl: merchant.url, extParam: 'ext-1' });
    const first = await postJson('/api/pay/cancel', request);
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({
      code: 0,
      msg: 'SUCCESS',
      data: { state: 2, errCode: '', errMsg: '' },
    });
    expect(Object.keys(first.json.data!).sort()).toEqual([
      'cancelOrderId',
      'channelOrderNo',
      'errCode',
      'errMsg',
      'state',
    ]);
    expect(verifyMd5Sign(first.json.data!, first.json.sign, PAYBY_APP.key)).toBe(true);
    const cancelOrderId = first.json.data!.cancelOrderId as string;
    expect(cancelOrderId).toMatch(/^C\d{21}$/);

    const again = await postJson('/api/pay/cancel', signed(PAYBY_APP, { mchOrderNo: 'NB-1' }));
    expect(again.json.data).toMatchObject({ cancelOrderId, state: 2 });
    expect(world.payby.order('NB-1')!.calls).toEqual(['cancel']);

    const n = await eventually(async () =>
      merchant.received.find((r) => r.params.cancelOrderId === cancelOrderId),
    );
    expect(n.params).toMatchObject({ state: '2', payAmount: '435', currency: 'AED', extraParam: 'ext-1' });
    expect(verifyMd5Sign(n.params, n.params.sign, PAYBY_APP.key)).toBe(true);

    const query = await postJson('/api/cancel/query', signed(PAYBY_APP, { cancelOrderId }));
    expect(query.json).toMatchObject({
      code: 0,
      data: {
        cancelOrderId,
        mchNo: PAYBY_APP.mchNo,
        appId: PAYBY_APP.appId,
        payAmount: 435,
        currency: 'AED',
        state: 2,
        extraParam: 'ext-1',
      },
    });
    expect(query.json.data!.createdAt).toEqual(expect.any(Number));
    expect(verifyMd5Sign(query.json.data!, query.json.sign, PAYBY_APP.key)).toBe(true);
  });

  test('a form cancel through the Unified gateway: answered "in progress" (1) at once, final by query later', async () => {
    const pay = world.unified.setOrder({ pendingQueries: 2, amountMinor: 58, currency: 'HKD', silent: true });
    const res = await postForm('/api/pay/cancel', signed(UNIFIED_APP, { payOrderId: pay }));
    // The answer comes after the gateway's first answer (accepted, state 1), not after the end.
    expect(res.json).toMatchObject({ code: 0, data: { state: 1 } });
    expect(verifyMd5Sign(res.json.data!, res.json.sign, UNIFIED_APP.key)).toBe(true);
    const query = await eventually(async () => {
      const q = await postForm(
        '/api/cancel/query',
        signed(UNIFIED_APP, { cancelOrderId: res.json.data!.cancelOrderId as string }),
      );
      return q.json.data?.state === 2 ? q : undefined;
    });
    expect(query.json.data).toMatchObject({ state: 2, payOrderId: pay, payAmount: 58, currency: 'HKD' });
  });

  test('the query of an unknown cancel order, or of another app\'s, is "order not found"', async () => {
    const res = await postJson(
      '/api/cancel/query',
      signed(PAYBY_APP, { cancelOrderId: 'C000000000000000000000' }),
    );
    expect(res.status).toBe(404);
    expect(res.json).toMatchObject({ code: 1006, msg: expect.stringContaining('order not found') });
    const own = await postJson('/api/pay/cancel', signed(PAYBY_APP, { mchOrderNo: 'NB-own' }));
    const theirs = await postJson(
      '/api/cancel/query',
      signed(UNIFIED_APP, { cancelOrderId: own.json.data!.cancelOrderId as string }),
    );
    expect(theirs.json.code).toBe(1006);
  });
});

describe('query answers are kept: terminal ones for good, pending ones until a transition commits', () => {
  test('a pending answer is kept until Postgres notifies a transition; a terminal one comes from the cache and the row can no longer change', async () => {
    const db = world.database.db;
    const id = 'C20261122000000000001';
    await db('cancellations').insert({
      cancel_order_id: id,
      workflow_id: 'cancel/payby-test/mch:NB-cache',
      mch_no: PAYBY_APP.mchNo,
      app_id: PAYBY_APP.appId,
      account_id: 'payby-test',
      provider: 'payby',
      order_ref: 'mch:NB-cache',
      mch_order_no: 'NB-cache',
      status: 'PENDING',
      state: 1,
    });
    const ask = async () =>
      (await postJson('/api/cancel/query', signed(PAYBY_APP, { cancelOrderId: id }))).json;
    const hits = async () =>
      (await queryCacheTotal.get()).values.find((v) => v.labels.result === 'hit')?.value ?? 0;

    expect((await ask()).data).toMatchObject({ cancelOrderId: id, state: 1 });
    // Pending, kept: the second answer comes from the cache (the change feed is live).
    let before = await hits();
    expect((await ask()).data).toMatchObject({ state: 1 });
    expect(await hits()).toBe(before + 1);
    // A transition commits: Postgres notifies, the kept answer is dropped, the next one reads 2 —
    // well before the 5 s a kept pending answer lives at most.
    const changedAt = Date.now();
    expect(await applyTransition(db, { cancelOrderId: id, seq: 1, status: 'SUCCEEDED', state: 2 })).toBe(
      'applied',
    );
    await eventually(async () => ((await ask()).data?.state === 2 ? true : undefined), 4_000);
    expect(Date.now() - changedAt).toBeLessThan(4_000);
    before = await hits();
    // Terminal: answered from the cache, the same signed answer.
    const cached = await ask();
    expect(cached).toMatchObject({ code: 0, data: { state: 2 } });
    expect(verifyMd5Sign(cached.data!, cached.sign, PAYBY_APP.key)).toBe(true);
    expect(await hits()).toBe(before + 1);
    // ... which is sound because a terminal row is never changed again, by anyone.
    expect(await applyTransition(db, { cancelOrderId: id, seq: 2, status: 'FAILED', state: 3 })).toBe(
      'terminal',
    );
    expect(await db('cancellations').where({ cancel_order_id: id }).first()).toMatchObject({
      status: 'SUCCEEDED',
      state: 2,
    });
    expect(await db('cancellation_transitions').where({ cancel_order_id: id }).pluck('seq')).toEqual([1]);
    // The cache is keyed by app too: another app still gets "order not found".
    const theirs = await postJson('/api/cancel/query', signed(UNIFIED_APP, { cancelOrderId: id }));
    expect(theirs.json.code).toBe(1006);
  });
});

describe('refusals: clear, never a 5xx, never a started workflow', () => {
  const cancelCases: Array<[string, Record<string, unknown>, number, RegExp]> = [
    ['no order reference', {}, 1002, /payOrderId or mchOrderNo is required/],
    ['payOrderId too long', { payOrderId: 'P'.repeat(31) }, 1002, /^payOrderId: must be at most 30/],
    ['mchOrderNo too long', { mchOrderNo: 'M'.repeat(31) }, 1002, /^mchOrderNo: must be at most 30/],
    [
      'clientIp too long',
      { mchOrderNo: 'x', clientIp: '1'.repeat(33) },
      1002,
      /^clientIp: must be at most 32/,
    ],
    [
      'notifyUrl too long',
      { mchOrderNo: 'x', notifyUrl: `https://a.b/${'n'.repeat(120)}` },
      1002,
      /^notifyUrl: must be at most 128/,
    ],
    [
      'notifyUrl not http',
      { mchOrderNo: 'x', notifyUrl: 'ftp://a.b/n' },
      1002,
      /^notifyUrl: must be an http\(s\) URL/,
    ],
    [
      'channelExtra too long',
      { mchOrderNo: 'x', channelExtra: 'c'.repeat(257) },
      1002,
      /^channelExtra: must be at most 256/,
    ],
    [
      'extParam too long',
      { mchOrderNo: 'x', extParam: 'e'.repeat(513) },
      1002,
      /^extParam: must be at most 512/,
    ],
    ['payOrderId a number', { payOrderId: 12345 }, 1002, /^payOrderId: must be a string/],
    ['mchOrderNo an object', { mchOrderNo: { a: 1 } }, 1002, /^mchOrderNo: must be a string/],
    ['version 2.0', { mchOrderNo: 'x', version: '2.0' }, 1002, /^version: must be "1.0"/],
    ['signType SHA256', { mchOrderNo: 'x', signType: 'SHA256' }, 1002, /^signType: must be "MD5"/],
    ['reqTime not digits', { mchOrderNo: 'x', reqTime: 'yesterday' }, 1002, /^reqTime: must be a 13-digit/],
    [
      'reqTime too old',
      { mchOrderNo: 'x', reqTime: Date.now() - 11 * 60_000 },
      1005,
      /reqTime is 6\d\d s away/,
    ],
    ['reqTime in the future', { mchOrderNo: 'x', reqTime: Date.now() + 11 * 60_000 }, 1005, /allowed ±600 s/],
  ];
  for (const [label, fields, code, msg] of cancelCases) {
    test(`cancel with ${label} → ${code}`, async () => {
      const before = await countRows();
      const res = await postJson('/api/pay/cancel', signed(PAYBY_APP, fields as Record<string, string>));
      expect(res.json).toMatchObject({ code });
      expect(res.json.msg).toMatch(msg);
      expect(res.status).toBeLessThan(500);
      expect(res.json.data).toBeUndefined();
      expect(await countRows()).toBe(before);
    });
  }

  for (const field of ['mchNo', 'appId', 'reqTime', 'version', 'sign', 'signType']) {
    test(`cancel without ${field} → 1002 naming it`, async () => {
      const params = signed(PAYBY_APP, { mchOrderNo: 'x' });
      delete params[field];
      const res = await postJson('/api/pay/cancel', params);
      expect(res.json).toEqual({ code: 1002, msg: `${field}: is required` });
    });
  }

  test('query without cancelOrderId, or with one too long → 1002', async () => {
    expect((await postJson('/api/cancel/query', signed(PAYBY_APP, {}))).json).toEqual({
      code: 1002,
      msg: 'cancelOrderId: is required',
    });
    expect(
      (await postJson('/api/cancel/query', signed(PAYBY_APP, { cancelOrderId: 'C'.repeat(31) }))).json.msg,
    ).toMatch(/^cancelOrderId: must be at most 30/);
  });

  test('signatures: another key, a field changed after signing → 1004; lower-case hex is accepted', async () => {
    const before = await countRows();
    const wrongKey = signed(PAYBY_APP, { mchOrderNo: 'NB-sig' }, 'not-the-key');
    expect((await postJson('/api/pay/cancel', wrongKey)).json).toEqual({
      code: 1004,
      msg: 'signature verification failed',
    });
    const tampered = { ...signed(PAYBY_APP, { mchOrderNo: 'NB-sig' }), mchOrderNo: 'NB-other' };
    const res = await postJson('/api/pay/cancel', tampered);
    expect(res).toMatchObject({ status: 401, json: { code: 1004 } });
    expect(await countRows()).toBe(before);
    world.payby.setOrder('NB-lower', { status: 'CREATED' });
    const lower = signed(PAYBY_APP, { mchOrderNo: 'NB-lower' });
    lower.sign = String(lower.sign).toLowerCase();
    expect((await postJson('/api/pay/cancel', lower)).json.code).toBe(0);
  });

  test('an unknown app → 1003', async () => {
    const res = await postJson(
      '/api/pay/cancel',
      signed({ mchNo: 'M0', appId: 'nope', key: 'k' }, { mchOrderNo: 'x' }),
    );
    expect(res).toMatchObject({
      status: 403,
      json: { code: 1003, msg: 'unknown app: mchNo M0 has no appId nope' },
    });
  });

  test('malformed bodies: broken JSON, an array, empty, wrong content type, huge → 1001/1008', async () => {
    const before = await countRows();
    const cases: Array<[string, string, number]> = [
      ['{"mchNo":', 'application/json', 1001],
      ['[1,2]', 'application/json', 1001],
      ['', 'application/json', 1001],
      ['mchNo=M1', 'text/plain', 1001],
      [JSON.stringify({ pad: 'x'.repeat(100 * 1024) }), 'application/json', 1008],
    ];
    for (const [body, type, code] of cases) {
      const res = await post('/api/pay/cancel', body, type);
      expect(res.json).toMatchObject({ code });
      expect(res.json.msg.length).toBeGreaterThan(5);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
    expect(await countRows()).toBe(before);
  });

  test('too many requests → 1007 (429), from a server with a small limit', async () => {
    const server = await buildServer({
      config: { ...world.config, api: { ...world.config.api, rateLimitPerMinute: 2 } },
      db: world.database.db,
      temporal: world.temporal.connection,
      logger: createLogger('silent'),
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    try {
      const url = `http://127.0.0.1:${(server.server.address() as { port: number }).port}/api/cancel/query`;
      const body = JSON.stringify(signed(PAYBY_APP, { cancelOrderId: 'C000000000000000000000' }));
      const codes = [];
      for (let i = 0; i < 3; i++) {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        codes.push([res.status, ((await res.json()) as { code: number }).code]);
      }
      expect(codes).toEqual([
        [404, 1006],
        [404, 1006],
        [429, 1007],
      ]);
    } finally {
      await server.close();
    }
  });
});

describe('operations', () => {
  test('/metrics exposes cancellations, provider latency and API answers', async () => {
    world.payby.setOrder('NB-metrics', { status: 'CREATED' });
    const ok = await postJson(
      '/api/pay/cancel',
      signed(PAYBY_APP, { mchOrderNo: 'NB-metrics', notifyUrl: merchant.url }),
    );
    await postJson('/api/pay/cancel', signed(PAYBY_APP, { mchOrderNo: 'NB-metrics' }, 'wrong-key'));
    const id = ok.json.data!.cancelOrderId as string;
    await eventually(async () =>
      world.database
        .db('notification_attempts')
        .where({ notification_id: `ntf_${id}`, success: true })
        .first(),
    );
    // The attempt is counted right after its row is written.
    const text = await eventually(async () => {
      const body = await (await fetch(`${world.apiUrl}/metrics`)).text();
      return body.includes('cancelflow_notification_attempts_total{result="success"}') ? body : undefined;
    });
    expect(text).toMatch(/cancelflow_api_requests_total\{route="\/api\/pay\/cancel",code="0"\} \d+/);
    expect(text).toMatch(/cancelflow_api_requests_total\{route="\/api\/pay\/cancel",code="1004"\} \d+/);
    // The worker runs in this process in tests, so its metrics share the registry.
    expect(text).toMatch(
      /cancelflow_cancellations_finished_total\{status="SUCCEEDED",account="payby-test",provider="payby"\} \d+/,
    );
    expect(text).toMatch(
      /cancelflow_provider_call_seconds_bucket\{le="[\d.]+",provider="payby",account="payby-test",operation="cancel",outcome="cancelled"\}/,
    );
    expect(text).toMatch(/cancelflow_notification_attempts_total\{result="success"\} \d+/);
  });

  test('ops endpoints: get a cancellation, redeliver its notification; unknown ids are 404', async () => {
    world.payby.setOrder('NB-ops', { status: 'CREATED' });
    const started = await postJson(
      '/api/pay/cancel',
      signed(PAYBY_APP, { mchOrderNo: 'NB-ops', notifyUrl: merchant.url }),
    );
    const id = started.json.data!.cancelOrderId as string;
    await eventually(async () => merchant.received.filter((r) => r.params.cancelOrderId === id).length === 1);
    const got = await (await fetch(`${world.apiUrl}/ops/cancellations/${id}`)).json();
    expect(got).toMatchObject({ cancelOrderId: id, status: 'SUCCEEDED' });
    const redeliver = await eventually(async () => {
      const res = await fetch(`${world.apiUrl}/ops/notifications/${id}/redeliver`, { method: 'POST' });
      return res.status === 202 ? res : undefined; // 409 while the first round is still closing
    });
    expect(redeliver.status).toBe(202);
    await eventually(async () => merchant.received.filter((r) => r.params.cancelOrderId === id).length === 2);
    const copies = merchant.received.filter((r) => r.params.cancelOrderId === id);
    expect(copies[1]!.raw).toBe(copies[0]!.raw);
    expect((await fetch(`${world.apiUrl}/ops/notifications/C1/redeliver`, { method: 'POST' })).status).toBe(
      404,
    );
  });
});
