import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { applyTransition, createCancellationActivities } from '../../activities/cancellation';
import { completeRecord } from '../../activities/callbacks';
import { createCancelflowClient } from '../../client';
import { providerOutcomeSignal } from '../../workflows/definitions';
import { createLogger } from '../../common/logger';
import type { CancellationInput, RecordResult } from '../../contract/cancellation';
import { signEnvelope, verifyMd5Sign } from '../../providers/unified/sign';
import {
  BROKEN_APP,
  createWorld,
  eventually,
  FAST_TIMINGS,
  HOOKED_APP,
  PAYBY_APP,
  startReceiver,
  UNIFIED_APP,
  type Receiver,
  type World,
} from '../helpers/world';

/**
 * Outcome integrity, through the real stack (Temporal, Postgres, both sandboxes, the API): every
 * answer is about the right order, for the right app, and true. Each test is a path a hostile
 * review found to give a wrong answer about money before.
 */

let world: World;
let merchantA: Receiver;
let merchantB: Receiver;

beforeAll(async () => {
  [world, merchantA, merchantB] = await Promise.all([
    createWorld({ brokenAccount: true }),
    startReceiver(() => 'success'),
    startReceiver(() => 'success'),
  ]);
});
afterAll(async () => {
  await merchantA?.close();
  await merchantB?.close();
  await world?.close();
});

const row = (cancelOrderId: string) =>
  world.database.db('cancellations').where({ cancel_order_id: cancelOrderId }).first();

/**
 * A client whose cancellations give up quickly: UNRESOLVED after `deadlineMs`, held 50 ms. (The dev
 * server fires timers about once a second, so a poll round takes ~1 s whatever its delay.)
 */
const shortLived = (deadlineMs = 1_500) =>
  createCancelflowClient({
    client: world.temporal.client,
    config: world.config,
    timings: { ...FAST_TIMINGS, deadlineMs, unresolvedHoldMs: 50 },
  });

type App = { mchNo: string; appId: string; key: string };

async function northbound(path: string, app: App, fields: Record<string, string>) {
  const params = signEnvelope(app, app.key, { reqTime: Date.now(), ...fields });
  const res = await fetch(`${world.apiUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(params),
  });
  return (await res.json()) as { code: number; msg: string; data?: Record<string, unknown>; sign?: string };
}

describe('a cancel that happened is never reported failed', () => {
  test('Unified: cancel applied, answer lost, the repeat refused, no callback → UNRESOLVED in state 1, never 3', async () => {
    const pay = world.unified.setOrder({
      loseCancelResponse: true,
      repeatRefusal: 'order status not allowed',
      silent: true,
    });
    const cf = shortLived(5_000);
    const started = await cf.startCancellation({ ...UNIFIED_APP, payOrderId: pay });
    const result = await cf.waitForResult(started.cancelOrderId);
    // The gateway did cancel it.
    expect(world.unified.order(pay)!.cancel!.state).toBe(2);
    expect(result).toMatchObject({ status: 'UNRESOLVED', state: 1 });
    expect(await row(started.cancelOrderId)).toMatchObject({ status: 'UNRESOLVED', state: 1 });
    // It kept asking (repeated cancels are how this gateway is asked), and every answer is recorded.
    const calls = world.unified.order(pay)!.calls;
    expect(calls.length).toBeGreaterThan(2);
    const outcomes = await world.database
      .db('provider_calls')
      .where({ cancel_order_id: started.cancelOrderId })
      .orderBy('id')
      .pluck('outcome');
    expect(outcomes[0]).toBe('unknown');
    expect(outcomes.slice(1)).toContain('refused');
    const states = await world.database
      .db('cancellation_transitions')
      .where({ cancel_order_id: started.cancelOrderId })
      .pluck('state');
    expect(states).not.toContain(3);
  });

  test("Unified: the same, but the gateway's verified notification arrives → SUCCEEDED/2", async () => {
    const pay = world.unified.setOrder({
      loseCancelResponse: true,
      repeatRefusal: 'order status not allowed',
    });
    const started = await world.cancelflow.startCancellation({
      ...UNIFIED_APP,
      payOrderId: pay,
      notifyUrl: merchantA.url,
    });
    const result = await world.cancelflow.waitForResult(started.cancelOrderId);
    expect(result).toMatchObject({ status: 'SUCCEEDED', state: 2 });
    const callback = await world.database
      .db('provider_callbacks')
      .where({ cancel_order_id: started.cancelOrderId, verdict: 'valid' })
      .first();
    expect(callback).toMatchObject({ state: 2, signalled: true });
    // The merchant is told 2, never 3.
    const told = await eventually(async () => {
      const got = merchantA.received.filter((r) => r.params.cancelOrderId === started.cancelOrderId);
      return got.length > 0 ? got : undefined;
    });
    expect(told.map((r) => r.params.state)).toEqual(['2']);
  });
});

describe('tenant isolation', () => {
  test('two apps on one account cancel the same order: each its own id, row, signed answer and notification', async () => {
    world.payby.setOrder('PB-shared', { status: 'CREATED', amount: 7.5, currency: 'AED' });
    const a = await world.cancelflow.startCancellation({
      ...PAYBY_APP,
      mchOrderNo: 'PB-shared',
      notifyUrl: merchantA.url,
    });
    const b = await world.cancelflow.startCancellation({
      ...HOOKED_APP,
      mchOrderNo: 'PB-shared',
      notifyUrl: merchantB.url,
    });
    expect(a.cancelOrderId).not.toBe(b.cancelOrderId);
    expect(a.created && b.created).toBe(true);
    const [ra, rb] = await Promise.all([
      world.cancelflow.waitForResult(a.cancelOrderId),
      world.cancelflow.waitForResult(b.cancelOrderId),
    ]);
    expect(ra).toMatchObject({ appId: PAYBY_APP.appId, status: 'SUCCEEDED', state: 2 });
    // The second cancel found the order already FAILURE (62002) and confirmed it with getOrder.
    expect(rb).toMatchObject({ appId: HOOKED_APP.appId, status: 'SUCCEEDED', state: 2 });
    expect(await row(a.cancelOrderId)).toMatchObject({ app_id: PAYBY_APP.appId, notify_url: merchantA.url });
    expect(await row(b.cancelOrderId)).toMatchObject({ app_id: HOOKED_APP.appId, notify_url: merchantB.url });

    const toA = await eventually(async () =>
      merchantA.received.find((r) => r.params.cancelOrderId === a.cancelOrderId),
    );
    const toB = await eventually(async () =>
      merchantB.received.find((r) => r.params.cancelOrderId === b.cancelOrderId),
    );
    expect(verifyMd5Sign(toA.params, toA.params.sign, PAYBY_APP.key)).toBe(true);
    expect(verifyMd5Sign(toB.params, toB.params.sign, HOOKED_APP.key)).toBe(true);
    expect(merchantA.received.some((r) => r.params.cancelOrderId === b.cancelOrderId)).toBe(false);
    expect(merchantB.received.some((r) => r.params.cancelOrderId === a.cancelOrderId)).toBe(false);

    // Through the API: each app reads its own; app B asking for app A's id is "not found".
    const own = await northbound('/api/cancel/query', HOOKED_APP, { cancelOrderId: b.cancelOrderId });
    expect(own).toMatchObject({ code: 0, data: { cancelOrderId: b.cancelOrderId, appId: HOOKED_APP.appId } });
    expect(
      await northbound('/api/cancel/query', HOOKED_APP, { cancelOrderId: a.cancelOrderId }),
    ).toMatchObject({
      code: 1006,
    });
    // A repeat by app B through the API answers B's cancellation, signed with B's key.
    const repeat = await northbound('/api/pay/cancel', HOOKED_APP, { mchOrderNo: 'PB-shared' });
    expect(repeat).toMatchObject({ code: 0, data: { cancelOrderId: b.cancelOrderId, state: 2 } });
    expect(verifyMd5Sign(repeat.data!, repeat.sign!, HOOKED_APP.key)).toBe(true);
    // The client, scoped by app, refuses to show another app's cancellation.
    await expect(world.cancelflow.getCancellation(a.cancelOrderId, HOOKED_APP)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });
});

describe('an answer about another order is not an answer', () => {
  test('PayBy and Unified answers, correctly signed, about another order → recorded, never a success', async () => {
    world.payby.setOrder('PB-elsewhere', { status: 'CREATED', misaddressed: true });
    const pay = world.unified.setOrder({ misaddressed: true, pendingQueries: 1, silent: true });
    // Long enough for several answers even on a loaded machine (a timeout records no answer).
    const cf = shortLived(5_000);
    const [p, u] = await Promise.all([
      cf.startCancellation({ ...PAYBY_APP, mchOrderNo: 'PB-elsewhere' }),
      cf.startCancellation({ ...UNIFIED_APP, payOrderId: pay }),
    ]);
    const [rp, ru] = await Promise.all([
      cf.waitForResult(p.cancelOrderId),
      cf.waitForResult(u.cancelOrderId),
    ]);
    expect(rp.status).toBe('UNRESOLVED');
    expect(ru.status).toBe('UNRESOLVED');
    for (const id of [p.cancelOrderId, u.cancelOrderId]) {
      const calls = await world.database.db('provider_calls').where({ cancel_order_id: id });
      expect(calls.length).toBeGreaterThan(0);
      expect(calls.some((c) => c.outcome_detail.code === 'MISADDRESSED')).toBe(true);
      expect(calls.every((c) => c.outcome !== 'cancelled')).toBe(true);
    }
  });
});

describe('a replayed answer is not an answer', () => {
  test("a Unified cancel answer replayed from another order's cancel (signed, naming the cancel order only) → never a success", async () => {
    // Order 1 is cancelled: its answer, correctly signed, names cancel order C1 and state 2.
    const first = world.unified.setOrder({ silent: true });
    const one = await world.cancelflow.startCancellation({ ...UNIFIED_APP, payOrderId: first });
    const done = await world.cancelflow.waitForResult(one.cancelOrderId);
    expect(done).toMatchObject({ status: 'SUCCEEDED', state: 2 });
    const c1 = (
      await world.database.db('cancellations').where({ cancel_order_id: one.cancelOrderId }).first()
    ).provider_cancel_id as string;
    expect(c1).toMatch(/^C/);
    // Orders 2 and 3 are answered with that very answer (replayed, or misrouted by a proxy): order
    // 2 asked by its payOrderId (another number than order 1's), order 3 by its mchOrderNo only
    // (nothing to compare with order 1's row: not provably the same order, so not ours either).
    const second = world.unified.setOrder({ replayCancelAnswerOf: c1, silent: true });
    const mchOrderNo = `RP-mch-${Date.now()}`;
    world.unified.setOrder({ mchOrderNo, replayCancelAnswerOf: c1, silent: true });
    const cf = shortLived(3_000);
    const asked = await Promise.all([
      cf.startCancellation({ ...UNIFIED_APP, payOrderId: second }),
      cf.startCancellation({ ...UNIFIED_APP, mchOrderNo }),
    ]);
    for (const two of asked) {
      expect(await cf.waitForResult(two.cancelOrderId)).toMatchObject({ status: 'UNRESOLVED' });
      const calls = await world.database.db('provider_calls').where({ cancel_order_id: two.cancelOrderId });
      const cancels = calls.filter((c) => c.operation === 'cancel');
      expect(cancels.length).toBeGreaterThan(0);
      // Each answer was the replayed success, and each was recorded as about another order.
      for (const c of cancels) {
        expect(JSON.parse(c.response_body)).toMatchObject({ code: 0, data: { cancelOrderId: c1, state: 2 } });
        expect(c).toMatchObject({ signature: 'valid', outcome: 'unknown' });
        expect(c.outcome_detail).toMatchObject({ code: 'MISADDRESSED' });
        expect(c.outcome_detail.reason).toContain(`cancellation ${one.cancelOrderId}'s`);
      }
      expect(
        await world.database.db('cancellations').where({ cancel_order_id: two.cancelOrderId }).first(),
      ).toMatchObject({ status: 'UNRESOLVED', provider_cancel_id: null });
    }
  });
});

describe("seed 000's fields mean what the seed says", () => {
  test('state is 1 from the moment the cancel was sent; the pending answer says 1', async () => {
    const pay = world.unified.setOrder({ pendingQueries: 2, silent: true });
    const started = await world.cancelflow.startCancellation({ ...UNIFIED_APP, payOrderId: pay });
    expect(started.answer).toMatchObject({ cancelOrderId: started.cancelOrderId, state: 1 });
    const transitions = await world.database
      .db('cancellation_transitions')
      .where({ cancel_order_id: started.cancelOrderId })
      .orderBy('seq')
      .select<Array<{ status: string; state: number; at: Date }>>('status', 'state', 'at');
    // State 1 is written as SUBMITTED, before the cancel's own audit row (written ahead of sending),
    // not learnt from the answer: the pending answer came later.
    expect(transitions.slice(0, 2).map((t) => [t.status, t.state])).toEqual([
      ['RECEIVED', 0],
      ['SUBMITTED', 1],
    ]);
    const cancelSent = await world.database
      .db('provider_calls')
      .where({ cancel_order_id: started.cancelOrderId, operation: 'cancel' })
      .orderBy('created_at')
      .first<{ created_at: Date } | undefined>('created_at');
    expect(transitions[1]!.at.getTime()).toBeLessThanOrEqual(cancelSent!.created_at.getTime());
    await world.cancelflow.waitForResult(started.cancelOrderId);
  });

  test('Unified success: payOrderId, payAmount and currency are filled by a cancel query when the answer lacked them', async () => {
    const pay = world.unified.setOrder({ amountMinor: 1999, currency: 'HKD' });
    const started = await world.cancelflow.startCancellation({
      ...UNIFIED_APP,
      payOrderId: pay,
      notifyUrl: merchantA.url,
    });
    await world.cancelflow.waitForResult(started.cancelOrderId);
    expect(await row(started.cancelOrderId)).toMatchObject({ state: 2, amount_minor: 1999, currency: 'HKD' });
    const told = await eventually(async () =>
      merchantA.received.find((r) => r.params.cancelOrderId === started.cancelOrderId),
    );
    expect(told.params).toMatchObject({ payOrderId: pay, payAmount: '1999', currency: 'HKD', state: '2' });
    const query = await northbound('/api/cancel/query', UNIFIED_APP, {
      cancelOrderId: started.cancelOrderId,
    });
    expect(query.data).toMatchObject({ payOrderId: pay, payAmount: 1999, currency: 'HKD', state: 2 });
  });

  test('PayBy success carries successTime', async () => {
    world.payby.setOrder('PB-time', { status: 'CREATED' });
    const before = Date.now();
    const started = await world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo: 'PB-time' });
    const result = await world.cancelflow.waitForResult(started.cancelOrderId);
    expect(result.successTime).toBeGreaterThanOrEqual(before);
    expect((await row(started.cancelOrderId)).success_time).toBeInstanceOf(Date);
  });

  test('clientIp, channelExtra and an undeliverable notifyUrl are refused at request time, naming the field', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ mchOrderNo: 'PB-v1', clientIp: '2001:db8::1' }, 'clientIp'],
      [{ mchOrderNo: 'PB-v2', clientIp: '300.1.1.1' }, 'clientIp'],
      [{ mchOrderNo: 'PB-v3', channelExtra: '{"auth_code", "1"}' }, 'channelExtra'],
      [{ mchOrderNo: 'PB-v4', notifyUrl: 'http://169.254.169.254/latest/meta-data' }, 'notifyUrl'],
      [{ mchOrderNo: 'PB-v5', notifyUrl: 'http://user:pw@example.com/notify' }, 'notifyUrl'],
      [{ mchOrderNo: 'PB-v6', notifyUrl: 'http://[::]:9464/' }, 'notifyUrl'],
    ];
    for (const [fields, field] of cases) {
      const answer = await northbound('/api/pay/cancel', PAYBY_APP, fields);
      expect(answer.code).toBe(1002);
      expect(answer.msg.startsWith(`${field}:`)).toBe(true);
    }
    expect(await world.database.db('cancellations').where('mch_order_no', 'like', 'PB-v%')).toHaveLength(0);
  });
});

describe('failed for our own reasons is not failed forever; Postgres is the source of truth', () => {
  test('a configuration failure (PayBy cannot verify our signature) can be started again; a business refusal cannot', async () => {
    world.payby.setOrder('PB-cfg', { status: 'CREATED' });
    const first = await world.cancelflow.startCancellation({ ...BROKEN_APP, mchOrderNo: 'PB-cfg' });
    const failed = await world.cancelflow.waitForResult(first.cancelOrderId);
    expect(failed).toMatchObject({ status: 'FAILED', state: 3, retryable: true });
    expect(await row(first.cancelOrderId)).toMatchObject({ status: 'FAILED', retryable: true });

    // The merchant asks again: a new cancellation, not the old refusal.
    const second = await world.cancelflow.startCancellation({ ...BROKEN_APP, mchOrderNo: 'PB-cfg' });
    expect(second.cancelOrderId).not.toBe(first.cancelOrderId);
    expect(second.created).toBe(true);
    await world.cancelflow.waitForResult(second.cancelOrderId);
    expect((await row(first.cancelOrderId)).retired_at).toBeInstanceOf(Date);
    expect(await row(second.cancelOrderId)).toMatchObject({ retry_of: first.cancelOrderId });
    // The old id still answers what it was.
    expect(
      await northbound('/api/cancel/query', BROKEN_APP, { cancelOrderId: first.cancelOrderId }),
    ).toMatchObject({
      code: 0,
      data: { cancelOrderId: first.cancelOrderId, state: 3 },
    });
  });

  test('a business refusal stays final; ops can force a retry', async () => {
    world.payby.setOrder('PB-refused', { status: 'PAID_SUCCESS' });
    const first = await world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo: 'PB-refused' });
    await world.cancelflow.waitForResult(first.cancelOrderId);
    const again = await world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo: 'PB-refused' });
    expect(again).toMatchObject({ cancelOrderId: first.cancelOrderId, created: false });
    const notForced = await world.cancelflow.retryCancellation(first.cancelOrderId);
    expect(notForced.cancelOrderId).toBe(first.cancelOrderId);
    const forced = await world.cancelflow.retryCancellation(first.cancelOrderId, { force: true });
    expect(forced.cancelOrderId).not.toBe(first.cancelOrderId);
    const result = await world.cancelflow.waitForResult(forced.cancelOrderId);
    expect(result).toMatchObject({ status: 'FAILED', errCode: '62001' });
  });

  test("ops' forced retry while the refused run is still making its notification's first attempt: a new cancellation, not the old answer", async () => {
    // The merchant's endpoint holds the first notification until told: the refused run stays open.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let received = 0;
    const merchant = http.createServer((req, res) => {
      req.resume();
      received += 1;
      void held.then(() => res.end('success'));
    });
    await new Promise<void>((r) => merchant.listen(0, '127.0.0.1', r));
    try {
      const notifyUrl = `http://127.0.0.1:${(merchant.address() as AddressInfo).port}/notify`;
      world.payby.setOrder('PB-refused-open', { status: 'PAID_SUCCESS' });
      const first = await world.cancelflow.startCancellation({
        ...PAYBY_APP,
        mchOrderNo: 'PB-refused-open',
        notifyUrl,
      });
      expect(first.answer).toMatchObject({ status: 'FAILED', errCode: '62001' });
      await eventually(async () => received === 1);
      expect((await world.temporal.client.workflow.getHandle(first.workflowId).describe()).status.name).toBe(
        'RUNNING',
      );
      const retrying = world.cancelflow.retryCancellation(first.cancelOrderId, { force: true });
      setTimeout(release, 500);
      const retried = await retrying;
      expect(retried.cancelOrderId).not.toBe(first.cancelOrderId);
      expect(retried.created).toBe(true);
      expect(await world.cancelflow.waitForResult(retried.cancelOrderId)).toMatchObject({
        status: 'FAILED',
        errCode: '62001',
      });
    } finally {
      release();
      merchant.closeAllConnections();
      await new Promise<void>((r) => merchant.close(() => r()));
    }
  });

  test("after Temporal's retention (the workflow is gone) the answer still comes from Postgres, nothing is redone", async () => {
    world.payby.setOrder('PB-retained', { status: 'CREATED' });
    const first = await world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo: 'PB-retained' });
    await world.cancelflow.waitForResult(first.cancelOrderId);
    const handle = world.temporal.client.workflow.getHandle(first.workflowId);
    const { runId } = await handle.describe();
    await world.temporal.client.workflowService.deleteWorkflowExecution({
      namespace: world.temporal.namespace,
      workflowExecution: { workflowId: first.workflowId, runId },
    });
    // Deletion is asynchronous on the server; on a loaded CI box it can take a while.
    await eventually(
      async () =>
        (await handle
          .describe()
          .then(() => false)
          .catch(() => true)) || undefined,
      60_000,
    );

    const answer = await northbound('/api/pay/cancel', PAYBY_APP, { mchOrderNo: 'PB-retained' });
    expect(answer).toMatchObject({ code: 0, data: { cancelOrderId: first.cancelOrderId, state: 2 } });
    expect(world.payby.order('PB-retained')!.calls).toEqual(['cancel']);
    expect(await world.database.db('cancellations').where({ mch_order_no: 'PB-retained' })).toHaveLength(1);
  }, 90_000);
});

describe('one order, one cancellation, whichever number names it', () => {
  test('cancelled by mchOrderNo, then asked by the payOrderId PayBy told us: the same cancellation', async () => {
    world.payby.setOrder('PB-alias', { status: 'CREATED' });
    const first = await world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo: 'PB-alias' });
    await world.cancelflow.waitForResult(first.cancelOrderId);
    const orderNo = world.payby.order('PB-alias')!.orderNo;
    expect(await row(first.cancelOrderId)).toMatchObject({ pay_order_id: orderNo });

    const second = await world.cancelflow.startCancellation({ ...PAYBY_APP, payOrderId: orderNo });
    expect(second).toMatchObject({ cancelOrderId: first.cancelOrderId, created: false });
    const viaApi = await northbound('/api/pay/cancel', PAYBY_APP, { payOrderId: orderNo });
    expect(viaApi).toMatchObject({ code: 0, data: { cancelOrderId: first.cancelOrderId, state: 2 } });
    expect(world.payby.order('PB-alias')!.calls).toEqual(['cancel']);
  });
});

describe('the API answers within its bound and leaves nothing waiting', () => {
  test('no worker at all: 9999 within cancelWaitMs + 1 s (not a hang); the request is kept and a repeat later gets the cancellation', async () => {
    world.payby.setOrder('PB-noworker', { status: 'CREATED' });
    await world.stopWorker();
    let answer;
    const sent = Date.now();
    try {
      answer = await northbound('/api/pay/cancel', PAYBY_APP, { mchOrderNo: 'PB-noworker' });
    } finally {
      await world.startWorker();
    }
    const took = Date.now() - sent;
    expect(answer).toMatchObject({ code: 9999 });
    expect(answer.msg).toMatch(/send the same request again/);
    // The bound is the workflow's wait plus one second; allow a loaded machine 3 s more.
    expect(took).toBeLessThan(world.config.api.cancelWaitMs + 1_000 + 3_000);

    const again = await eventually(async () => {
      const a = await northbound('/api/pay/cancel', PAYBY_APP, { mchOrderNo: 'PB-noworker' });
      return a.code === 0 && a.data?.state === 2 ? a : undefined;
    }, 30_000);
    expect(again.data!.cancelOrderId).toMatch(/^C\d{21}$/);
    expect(world.payby.order('PB-noworker')!.calls).toEqual(['cancel']);
  }, 60_000);
});

describe('what a hostile review found after the first pass', () => {
  test('a terminated run: the next request carries on the same cancellation (same id), asking before sending again', async () => {
    const pay = world.unified.setOrder({ pendingQueries: 1_000, silent: true });
    const first = await world.cancelflow.startCancellation({ ...UNIFIED_APP, payOrderId: pay });
    await eventually(async () => ((await row(first.cancelOrderId))?.status === 'PENDING' ? true : undefined));
    await world.temporal.client.workflow.getHandle(first.workflowId).terminate('an operator, by mistake');

    const again = await world.cancelflow.startCancellation({ ...UNIFIED_APP, payOrderId: pay });
    expect(again).toMatchObject({ cancelOrderId: first.cancelOrderId, created: false });
    // It goes on: the gateway now settles, and the carried-on run finds out by querying.
    world.unified.order(pay)!.pendingQueries = 0;
    const result = await world.cancelflow.waitForResult(first.cancelOrderId);
    expect(result).toMatchObject({ status: 'SUCCEEDED', state: 2, cancelOrderId: first.cancelOrderId });
    expect(world.unified.order(pay)!.calls.filter((c) => c === 'cancel')).toHaveLength(1);
    expect(await world.database.db('cancellations').where({ pay_order_id: pay })).toHaveLength(1);
  }, 60_000);

  test('retry --force of an UNRESOLVED Unified cancellation asks first; a refused repeat never makes it FAILED', async () => {
    const pay = world.unified.setOrder({
      loseCancelResponse: true,
      repeatRefusal: 'order status not allowed',
      silent: true,
    });
    const cf = shortLived(2_500);
    const first = await cf.startCancellation({ ...UNIFIED_APP, payOrderId: pay });
    expect(await cf.waitForResult(first.cancelOrderId)).toMatchObject({ status: 'UNRESOLVED', state: 1 });
    const retried = await cf.retryCancellation(first.cancelOrderId, { force: true });
    expect(retried.cancelOrderId).not.toBe(first.cancelOrderId);
    const result = await cf.waitForResult(retried.cancelOrderId);
    expect(world.unified.order(pay)!.cancel!.state).toBe(2); // the gateway did cancel it
    expect(result).toMatchObject({ status: 'UNRESOLVED', state: 1 });
    const states = await world.database
      .db('cancellation_transitions')
      .whereIn('cancel_order_id', [first.cancelOrderId, retried.cancelOrderId])
      .pluck('state');
    expect(states).not.toContain(3);
  }, 60_000);

  test('retry --force while the UNRESOLVED run still holds for a late answer: refused, saying what to do, and doing it settles it', async () => {
    world.payby.setOrder('PB-holding', { status: 'CREATED', badSignature: true });
    const cf = createCancelflowClient({
      client: world.temporal.client,
      config: world.config,
      timings: { ...FAST_TIMINGS, deadlineMs: 300, unresolvedHoldMs: 10 * 60_000 },
    });
    const first = await cf.startCancellation({ ...PAYBY_APP, mchOrderNo: 'PB-holding' });
    await eventually(async () => (await cf.getCancellation(first.cancelOrderId)).status === 'UNRESOLVED');
    await expect(cf.retryCancellation(first.cancelOrderId, { force: true })).rejects.toMatchObject({
      code: 'HOLDING',
      message: expect.stringContaining('requery'),
    });
    // What it says: the provider answers properly now, and the run is asked to ask it.
    world.payby.order('PB-holding')!.badSignature = false;
    await world.temporal.client.workflow
      .getHandle(first.workflowId)
      .signal(providerOutcomeSignal, { source: 'reconciliation', reference: 'test-requery' });
    expect(await cf.waitForResult(first.cancelOrderId)).toMatchObject({
      cancelOrderId: first.cancelOrderId,
      status: 'SUCCEEDED',
    });
  }, 60_000);

  test('a retry by ops keeps what the merchant asked with: the new cancellation keeps its clientIp and extParam and notifies its notifyUrl', async () => {
    world.payby.setOrder('PB-retry-notify', { status: 'PAID_SUCCESS' });
    const asked = { notifyUrl: merchantA.url, extParam: 'ticket=42', clientIp: '192.166.1.132' };
    const first = await world.cancelflow.startCancellation({
      ...PAYBY_APP,
      mchOrderNo: 'PB-retry-notify',
      ...asked,
    });
    expect(await world.cancelflow.waitForResult(first.cancelOrderId)).toMatchObject({
      status: 'FAILED',
      errCode: '62001',
    });
    await eventually(async () =>
      merchantA.received.some((r) => r.params.cancelOrderId === first.cancelOrderId),
    );
    // The payment was reversed elsewhere; ops retry, and the order is cancelled this time.
    world.payby.order('PB-retry-notify')!.status = 'CREATED';
    const retried = await world.cancelflow.retryCancellation(first.cancelOrderId, { force: true });
    expect(retried.cancelOrderId).not.toBe(first.cancelOrderId);
    expect(await world.cancelflow.waitForResult(retried.cancelOrderId)).toMatchObject({
      status: 'SUCCEEDED',
      state: 2,
    });
    expect(await row(retried.cancelOrderId)).toMatchObject({
      notify_url: asked.notifyUrl,
      ext_param: asked.extParam,
      client_ip: asked.clientIp,
    });
    // The merchant is told how the retried cancellation ended, at the URL it gave, with its extParam.
    await eventually(async () =>
      merchantA.received.some((r) => r.params.cancelOrderId === retried.cancelOrderId),
    );
    expect(
      merchantA.received.filter((r) => r.params.cancelOrderId === retried.cancelOrderId).map((r) => r.params),
    ).toEqual([expect.objectContaining({ state: '2', extraParam: 'ticket=42' })]);
  }, 60_000);

  test('a retried cancellation keeps every number the old one was known by', async () => {
    world.payby.setOrder('PB-refs', { status: 'PAID_SUCCESS' });
    const first = await world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo: 'PB-refs' });
    await world.cancelflow.waitForResult(first.cancelOrderId);
    const orderNo = world.payby.order('PB-refs')!.orderNo;
    // Asked by its other number before the retry: the same one, answered by a run of that number.
    const byPayBefore = await world.cancelflow.startCancellation({ ...PAYBY_APP, payOrderId: orderNo });
    expect(byPayBefore).toMatchObject({ cancelOrderId: first.cancelOrderId, created: false });
    await world.temporal.client.workflow.getHandle(byPayBefore.workflowId).result();
    // The payment was reversed elsewhere; ops retry, and the order is cancelled this time.
    world.payby.order('PB-refs')!.status = 'CREATED';
    const retried = await world.cancelflow.retryCancellation(first.cancelOrderId, { force: true });
    // Under the retried one's own id, whatever numbers its snapshot names now.
    expect(retried.workflowId).toBe(first.workflowId);
    expect(await world.cancelflow.waitForResult(retried.cancelOrderId)).toMatchObject({
      status: 'SUCCEEDED',
    });
    // Asked by the number only the old one had learned: the new cancellation, not a third, and
    // not the old FAILED answer that number's last run gave before the retry.
    const byPay = await world.cancelflow.startCancellation({ ...PAYBY_APP, payOrderId: orderNo });
    expect(byPay).toMatchObject({
      cancelOrderId: retried.cancelOrderId,
      created: false,
      answer: { status: 'SUCCEEDED', state: 2 },
    });
    // A retry under an id not of this app's cancellations, or an id without a retry: refused.
    for (const start of [
      { retryOf: { cancelOrderId: retried.cancelOrderId, force: true }, workflowId: 'cancel/other/x' },
      { workflowId: first.workflowId },
    ])
      await expect(
        world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo: 'PB-refs' }, start),
      ).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    // And by the number the retry ran under, and by both.
    for (const order of [{ mchOrderNo: 'PB-refs' }, { mchOrderNo: 'PB-refs', payOrderId: orderNo }])
      expect(await world.cancelflow.startCancellation({ ...PAYBY_APP, ...order })).toMatchObject({
        cancelOrderId: retried.cancelOrderId,
        answer: { status: 'SUCCEEDED' },
      });
    expect(await world.database.db('cancellations').where({ mch_order_no: 'PB-refs' })).toHaveLength(2);
  }, 60_000);
});

describe('the Temporal UI tells the business, not only "Running"', () => {
  test('a static summary at start, current details at each transition, summaries on activities and timers', async () => {
    const pay = world.unified.setOrder({ pendingQueries: 1_000, silent: true });
    const started = await world.cancelflow.startCancellation({ ...UNIFIED_APP, payOrderId: pay });
    await eventually(async () =>
      (await row(started.cancelOrderId))?.status === 'PENDING' ? true : undefined,
    );
    const handle = world.temporal.client.workflow.getHandle(started.workflowId);
    const description = await handle.describe();
    expect(await description.staticSummary()).toBe(
      `cancel pay:${pay} at unified (unified-test) for ${UNIFIED_APP.mchNo}/${UNIFIED_APP.appId}`,
    );
    expect(await description.staticDetails()).toContain(`payOrderId ${pay}`);
    const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toContain('**PENDING** (seed state 1)');
    expect(metadata.currentDetails).toContain(started.cancelOrderId);
    await eventually(async () => {
      const { events } = await handle.fetchHistory();
      const summaries = events!
        .map((e) => e.userMetadata?.summary?.data)
        .filter((d): d is Uint8Array => d instanceof Uint8Array)
        .map((d) => Buffer.from(d).toString('utf8'));
      return summaries.some((t) => t.includes('send the signed cancel to the Unified gateway (cancel #1)')) &&
        summaries.some((t) => t.includes('ask the Unified gateway (cancel query), round')) &&
        summaries.some((t) => t.includes('wait before asking the Unified gateway again'))
        ? true
        : undefined;
    });
    await handle.terminate('test done');
  });
});

describe('every exchange the provider saw is audited', () => {
  /** SUCCEEDED, one completed `provider_calls` row per request the sandbox saw, in its order. */
  async function succeedsFullyAudited(cancelOrderId: string, mchOrderNo: string): Promise<void> {
    const result = await world.cancelflow.waitForResult(cancelOrderId);
    expect(result).toMatchObject({ status: 'SUCCEEDED', state: 2 });
    const audited = await world.database
      .db('provider_calls')
      .where({ cancel_order_id: cancelOrderId })
      .orderBy('id');
    expect(audited.map((c) => c.operation)).toEqual(world.payby.order(mchOrderNo)!.calls);
    expect(audited.map((c) => c.outcome)).not.toContain('sent');
  }

  test('the audit table locked for 5 s: nothing is sent before its row can be written; then it is sent, answered and audited', async () => {
    world.payby.setOrder('PB-audit-late', { status: 'CREATED' });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const locked = new Promise<void>((ready) => {
      void world.database.db.transaction(async (trx) => {
        await trx.raw('LOCK TABLE provider_calls IN ACCESS EXCLUSIVE MODE');
        ready();
        await held;
      });
    });
    await locked;
    const started = await world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo: 'PB-audit-late' });
    // Longer than one bounded audit attempt (3 s). Before the write-ahead, the cancel went out at
    // once and its row was written after (or, past the activity's time, never).
    await new Promise((r) => setTimeout(r, 5_000));
    expect(world.payby.order('PB-audit-late')!.calls).toEqual([]);
    release();
    await succeedsFullyAudited(started.cancelOrderId, 'PB-audit-late');
  }, 60_000);

  test('a request the provider holds already has its row (written ahead), completed when the answer fails', async () => {
    world.payby.setOrder('PB-audit-ahead', { status: 'CREATED', faults: ['timeout'] });
    // Not awaited: the merchant's answer comes after the first provider answer, past the hold.
    const starting = world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo: 'PB-audit-ahead' });
    // While the sandbox holds the cancel unanswered (1 s, the test accounts' response timeout),
    // its row is there: the exact signed request, outcome `sent`.
    const ahead = await eventually(async () => {
      if (world.payby.order('PB-audit-ahead')!.calls.length === 0) return undefined;
      const rows = await world.database
        .db('provider_calls as p')
        .join('cancellations as c', 'c.cancel_order_id', 'p.cancel_order_id')
        .where({ 'c.mch_order_no': 'PB-audit-ahead', 'p.operation': 'cancel' })
        .select('p.*');
      return rows.length > 0 ? rows : undefined;
    });
    const started = await starting;
    expect(ahead).toHaveLength(1);
    expect(ahead[0]).toMatchObject({ outcome: 'sent', http_status: null, response_body: null });
    expect(ahead[0].request.headers.sign).toMatch(/^[A-Za-z0-9+/=]{40,}$/);
    // The sandbox's hold ends in our timeout: the same row is completed, never a second one.
    const done = await eventually(async () => {
      const row = await world.database.db('provider_calls').where({ id: ahead[0].id }).first();
      return row && row.outcome !== 'sent' ? row : undefined;
    });
    expect(done).toMatchObject({ outcome: 'unknown', exchange_key: ahead[0].exchange_key });
    expect(done.error).toMatch(/timeout|Timeout/);
    await succeedsFullyAudited(started.cancelOrderId, 'PB-audit-ahead');
  }, 60_000);
});

const rowOf = (cancelOrderId: string) =>
  world.database.db('cancellations').where({ cancel_order_id: cancelOrderId }).first();
const transitionsOf = (cancelOrderId: string) =>
  world.database
    .db('cancellation_transitions')
    .where({ cancel_order_id: cancelOrderId })
    .orderBy('seq')
    .select('seq', 'status', 'state', 'reason');

/** recordCancellation run directly, as the activity of run `runId` would run it. */
const record = (
  runId: string,
  input: CancellationInput & { deadlineAt: number; submitting?: boolean },
): Promise<RecordResult> =>
  new MockActivityEnvironment(
    { workflowExecution: { workflowId: `cancel/record-retry/${input.orderRef}`, runId }, activityId: '1' },
    { logger: new DefaultLogger('ERROR', () => undefined) },
  ).run(
    createCancellationActivities({
      db: world.database.db,
      config: world.config,
      logger: createLogger('silent'),
    }).recordCancellation,
    input,
  );
const inputFor = (mchOrderNo: string, extra: Partial<CancellationInput> & { submitting?: boolean } = {}) => {
  const requestedAt = Date.now();
  return {
    accountId: 'payby-test',
    provider: 'payby' as const,
    mchNo: PAYBY_APP.mchNo,
    appId: PAYBY_APP.appId,
    order: { mchOrderNo },
    orderRef: `mch:${mchOrderNo}`,
    requestedAt,
    deadlineAt: requestedAt + 60_000,
    submitting: true,
    ...extra,
  };
};

describe('recordCancellation retried after its first attempt committed (its answer lost): the same answer again', () => {
  test('a new cancellation: created and marked sent, both times', async () => {
    const input = inputFor(`RR-new-${Date.now()}`);
    const first = await record('run-new', input);
    expect(first).toMatchObject({ kind: 'created', submitted: true });
    expect(await record('run-new', input)).toEqual(first);
  });

  test('taking over a stopped run: the retry carries on too (asks first), never "new and marked sent"', async () => {
    const mchOrderNo = `RR-take-${Date.now()}`;
    const original = await record('run-1', inputFor(mchOrderNo));
    expect(original).toMatchObject({ kind: 'created', submitted: true });
    await new Promise((r) => setTimeout(r, 5)); // another request, another moment
    const input = inputFor(mchOrderNo, { takeOver: true });
    const first = await record('run-2', input);
    expect(first).toMatchObject({
      kind: 'created',
      carriedOn: { status: 'SUBMITTED', seq: 1, mayHaveLanded: true },
    });
    expect(first).not.toHaveProperty('submitted');
    expect(await record('run-2', input)).toEqual(first);
  });

  test('what the merchant asked with, kept by the row: a retry by ops and a run carrying on a stopped one take it, and a retry of the activity says it again', async () => {
    const asked = { notifyUrl: 'http://127.0.0.1:9/notify', extParam: 'x=1', clientIp: '10.0.0.1' };
    const mchOrderNo = `RR-asked-${Date.now()}`;
    const original = await record('run-a1', inputFor(mchOrderNo, asked));
    if (original.kind !== 'created') throw new Error('expected a new cancellation');
    expect(original).not.toHaveProperty('stored');
    // Carried on by a request that did not repeat them (`cancelflow start` after a terminate).
    await new Promise((r) => setTimeout(r, 5));
    const carryOn = inputFor(mchOrderNo, { takeOver: true });
    const carried = await record('run-a2', carryOn);
    expect(carried).toMatchObject({ kind: 'created', cancelOrderId: original.cancelOrderId, stored: asked });
    expect(await record('run-a2', carryOn)).toEqual(carried);
    // Retried by ops: a new cancellation, with the old one's request fields.
    await applyTransition(world.database.db, {
      cancelOrderId: original.cancelOrderId,
      seq: 2,
      status: 'FAILED',
      state: 3,
      errCode: '62001',
    });
    await new Promise((r) => setTimeout(r, 5));
    const retry = inputFor(mchOrderNo, { retryOf: { cancelOrderId: original.cancelOrderId, force: true } });
    const retried = await record('run-a3', retry);
    expect(retried).toMatchObject({ kind: 'created', stored: asked });
    if (retried.kind !== 'created') throw new Error('expected a new cancellation');
    expect(retried.cancelOrderId).not.toBe(original.cancelOrderId);
    expect(await record('run-a3', retry)).toEqual(retried);
    expect(await row(retried.cancelOrderId)).toMatchObject({
      notify_url: asked.notifyUrl,
      ext_param: asked.extParam,
      client_ip: asked.clientIp,
    });
  });

  test('a forced retry of an UNRESOLVED one: the retry asks first too', async () => {
    const mchOrderNo = `RR-unres-${Date.now()}`;
    const original = await record('run-1', inputFor(mchOrderNo));
    if (original.kind !== 'created') throw new Error('expected a new cancellation');
    await applyTransition(world.database.db, {
      cancelOrderId: original.cancelOrderId,
      seq: 2,
      status: 'UNRESOLVED',
      state: 1,
      providerCancelId: 'PCID-1',
    });
    await new Promise((r) => setTimeout(r, 5));
    const input = inputFor(mchOrderNo, { retryOf: { cancelOrderId: original.cancelOrderId, force: true } });
    const first = await record('run-3', input);
    expect(first).toMatchObject({
      kind: 'created',
      carriedOn: { status: 'SUBMITTED', seq: 1, providerCancelId: 'PCID-1', mayHaveLanded: true },
    });
    expect(first).not.toMatchObject({ cancelOrderId: original.cancelOrderId });
    expect(await record('run-3', input)).toEqual(first);
    // Written as sent in the one insert, with the provider's id it may be known by there.
    if (first.kind !== 'created') throw new Error('expected a new cancellation');
    expect(await rowOf(first.cancelOrderId)).toMatchObject({
      status: 'SUBMITTED',
      state: 1,
      provider_cancel_id: 'PCID-1',
      retry_of: original.cancelOrderId,
    });
    expect(await transitionsOf(first.cancelOrderId)).toEqual([
      { seq: 0, status: 'RECEIVED', state: 0, reason: null },
      {
        seq: 1,
        status: 'SUBMITTED',
        state: 1,
        reason: 'retry of an UNRESOLVED cancellation: a cancel may already be out',
      },
    ]);
  });

  test('the row and its first transitions: sent when the run asked (folded), received otherwise', async () => {
    const folded = await record('run-fold', inputFor(`RR-fold-${Date.now()}`));
    const plain = await record('run-plain', inputFor(`RR-plain-${Date.now()}`, { submitting: false }));
    if (folded.kind !== 'created' || plain.kind !== 'created') throw new Error('expected new cancellations');
    expect(plain).not.toHaveProperty('submitted');
    expect(await rowOf(folded.cancelOrderId)).toMatchObject({
      status: 'SUBMITTED',
      state: 1,
      provider_cancel_id: null,
    });
    expect(await transitionsOf(folded.cancelOrderId)).toEqual([
      { seq: 0, status: 'RECEIVED', state: 0, reason: null },
      { seq: 1, status: 'SUBMITTED', state: 1, reason: null },
    ]);
    expect(await rowOf(plain.cancelOrderId)).toMatchObject({ status: 'RECEIVED', state: 0 });
    expect(await transitionsOf(plain.cancelOrderId)).toEqual([
      { seq: 0, status: 'RECEIVED', state: 0, reason: null },
    ]);
  });
});

describe('applyTransition: each transition written once, a final record never changed', () => {
  const newCancellation = async (label: string) => {
    const result = await record('run-1', inputFor(`AT-${label}-${Date.now()}`));
    if (result.kind !== 'created') throw new Error('expected a new cancellation');
    return result.cancelOrderId;
  };
  const db = () => world.database.db;

  test('retried: duplicate, one row; retried after the record is final: still duplicate; another transition of a final record: terminal, nothing written', async () => {
    const id = await newCancellation('retry');
    const succeeded = {
      cancelOrderId: id,
      seq: 2,
      status: 'SUCCEEDED' as const,
      state: 2 as const,
      channelOrderNo: 'CH-1',
    };
    expect(await applyTransition(db(), succeeded)).toBe('applied');
    expect(await applyTransition(db(), succeeded)).toBe('duplicate');
    const failed = { cancelOrderId: id, seq: 3, status: 'FAILED' as const, state: 3 as const, errCode: 'X' };
    expect(await applyTransition(db(), failed)).toBe('terminal');
    // A transition of the same seq as the final one but saying something else changes nothing either.
    expect(await applyTransition(db(), { ...failed, seq: 2 })).toBe('duplicate');
    expect(await rowOf(id)).toMatchObject({
      status: 'SUCCEEDED',
      state: 2,
      channel_order_no: 'CH-1',
      err_code: null,
    });
    expect((await transitionsOf(id)).map((t) => [t.seq, t.status])).toEqual([
      [0, 'RECEIVED'],
      [1, 'SUBMITTED'],
      [2, 'SUCCEEDED'],
    ]);
  });

  test('the same transition from two connections at once: one applied, one duplicate, no error', async () => {
    for (let round = 0; round < 5; round++) {
      const id = await newCancellation(`race${round}`);
      const t = { cancelOrderId: id, seq: 2, status: 'PENDING' as const, state: 1 as const };
      const results = await Promise.all([
        applyTransition(db(), t),
        applyTransition(db(), t),
        applyTransition(db(), t),
      ]);
      expect(results.sort()).toEqual(['applied', 'duplicate', 'duplicate']);
      expect((await transitionsOf(id)).map((r) => r.seq)).toEqual([0, 1, 2]);
    }
  });

  test('two repairs of one record at once (reconciliation and a late callback): one applied with its outcome, the other sees it final', async () => {
    for (let round = 0; round < 5; round++) {
      const id = await newCancellation(`repairs${round}`);
      const results = await Promise.all([
        completeRecord(db(), id, { kind: 'cancelled', channelOrderNo: 'CH-A' }, 'repair A'),
        completeRecord(db(), id, { kind: 'refused', state: 3, code: 'E1', message: 'no' }, 'repair B'),
      ]);
      expect(results.map((r) => r.written).sort()).toEqual(['applied', 'terminal']);
      const applied = results.find((r) => r.written === 'applied')!;
      expect(await rowOf(id)).toMatchObject({ status: applied.status, state: applied.state });
      expect((await transitionsOf(id)).map((t) => t.seq)).toEqual([0, 1, 2]);
    }
  });

  test('a repair of a retired record (superseded by a retry) writes nothing', async () => {
    const id = await newCancellation('retired');
    await db()('cancellations').where({ cancel_order_id: id }).update({ retired_at: new Date() });
    const repair = await completeRecord(db(), id, { kind: 'cancelled' }, 'late repair');
    expect(repair.written).toBe('retired');
    expect(await rowOf(id)).toMatchObject({ status: 'SUBMITTED', state: 1 });
    expect((await transitionsOf(id)).map((t) => t.seq)).toEqual([0, 1]);
  });

  test('numbers: the ones the record has stay its own; a new one is learned and kept on the row', async () => {
    const id = await newCancellation('numbers');
    const row = await rowOf(id);
    expect(
      await applyTransition(db(), {
        cancelOrderId: id,
        seq: 2,
        status: 'PENDING',
        state: 1,
        mchOrderNo: row.mch_order_no,
        payOrderId: 'PAY-NEW-1',
      }),
    ).toBe('applied');
    const refs = await db()('cancellation_refs')
      .where({ cancel_order_id: id })
      .orderBy('order_ref')
      .pluck('order_ref');
    expect(refs).toEqual([`mch:${row.mch_order_no}`, 'pay:PAY-NEW-1']);
    expect(await rowOf(id)).toMatchObject({ pay_order_id: 'PAY-NEW-1' });
  });
});
