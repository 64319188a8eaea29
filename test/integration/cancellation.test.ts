import { recordFixtures, replayCompletedRuns } from '../helpers/replay';
import { createCancelflowClient, ValidationError } from '../../client';
import { CancelflowError } from '../../common/errors';
import { verifyMd5Sign } from '../../providers/unified/sign';
import { md5Sign } from '../../providers/unified/sign';
import {
  CancelAccount,
  CancelMchNo,
  CancelOrderId,
  CancelOrderRef,
  CancelProvider,
  CancelState,
} from '../../workflows/search-attributes';
import {
  createWorld,
  eventually,
  FAST_TIMINGS,
  GATEWAY,
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

const row = (cancelOrderId: string) =>
  world.database.db('cancellations').where({ cancel_order_id: cancelOrderId }).first();
const calls = (cancelOrderId: string) =>
  world.database.db('provider_calls').where({ cancel_order_id: cancelOrderId }).orderBy('id');
const transitions = (cancelOrderId: string) =>
  world.database
    .db('cancellation_transitions')
    .where({ cancel_order_id: cancelOrderId })
    .orderBy('seq')
    .select('seq', 'status', 'state');

async function searchAttributes(workflowId: string) {
  const d = await world.temporal.client.workflow.getHandle(workflowId).describe();
  const sa = d.typedSearchAttributes;
  return {
    account: sa.get(CancelAccount),
    provider: sa.get(CancelProvider),
    state: sa.get(CancelState),
    orderRef: sa.get(CancelOrderRef),
    mchNo: sa.get(CancelMchNo),
    cancelOrderId: sa.get(CancelOrderId),
  };
}

async function cancelPayby(mchOrderNo: string, extra: { notifyUrl?: string } = {}) {
  const started = await world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo, ...extra });
  const result = await world.cancelflow.waitForResult(started.workflowId);
  return { started, result };
}

async function cancelUnified(payOrderId: string, extra: { notifyUrl?: string } = {}) {
  const started = await world.cancelflow.startCancellation({ ...UNIFIED_APP, payOrderId, ...extra });
  const result = await world.cancelflow.waitForResult(started.workflowId);
  return { started, result };
}

describe('cancellation workflow, end to end against the PayBy sandbox', () => {
  test('cancelled at once: SUCCEEDED/2, exact amount, one verified call, search attributes, notification delivered', async () => {
    world.payby.setOrder('PB-ok', { status: 'CREATED', amount: 21.74, currency: 'AED' });
    const { started, result } = await cancelPayby('PB-ok', { notifyUrl: merchant.url });
    expect(started.cancelOrderId).toMatch(/^C\d{21}$/);
    expect(started.workflowId).toBe(`cancel/payby-test/${PAYBY_APP.mchNo}/${PAYBY_APP.appId}/mch:PB-ok`);
    expect(result).toMatchObject({ status: 'SUCCEEDED', state: 2, amount: { minor: 2174, currency: 'AED' } });

    expect(await row(started.cancelOrderId)).toMatchObject({
      status: 'SUCCEEDED',
      state: 2,
      amount_minor: 2174,
      currency: 'AED',
      account_id: 'payby-test',
      order_ref: 'mch:PB-ok',
    });
    const exchanges = await calls(started.cancelOrderId);
    expect(exchanges).toHaveLength(1);
    expect(exchanges[0]).toMatchObject({
      operation: 'cancel',
      outcome: 'cancelled',
      signature: 'valid',
      http_status: 200,
    });
    expect(JSON.stringify(exchanges)).not.toMatch(/PRIVATE KEY/);
    expect((await transitions(started.cancelOrderId)).map((t) => t.status)).toEqual([
      'RECEIVED',
      'SUBMITTED',
      'SUCCEEDED',
    ]);
    expect(await searchAttributes(started.workflowId)).toEqual({
      account: 'payby-test',
      provider: 'payby',
      state: 'SUCCEEDED',
      orderRef: 'mch:PB-ok',
      mchNo: PAYBY_APP.mchNo,
      cancelOrderId: started.cancelOrderId,
    });

    // The terminal state started the notification delivery: seed-000 fields, signed with the app key.
    const delivered = await eventually(async () =>
      merchant.received.find((r) => r.params.cancelOrderId === started.cancelOrderId),
    );
    expect(delivered.params).toMatchObject({
      state: '2',
      payAmount: '2174',
      currency: 'AED',
      mchNo: PAYBY_APP.mchNo,
    });
    expect(verifyMd5Sign(delivered.params, delivered.params.sign, PAYBY_APP.key)).toBe(true);
  });

  test('already paid / settled → FAILED with the provider code; not found → FAILED', async () => {
    world.payby.setOrder('PB-paid', { status: 'PAID_SUCCESS' });
    world.payby.setOrder('PB-settled', { status: 'SETTLED' });
    const [paid, settled, missing] = await Promise.all([
      cancelPayby('PB-paid'),
      cancelPayby('PB-settled'),
      cancelPayby('PB-nobody'),
    ]);
    // Seed 000's errCode / errMsg are the channel's own code and description.
    expect(paid.result).toMatchObject({ status: 'FAILED', state: 3, errCode: '62001', errMsg: 'ORDER_PAID' });
    expect(settled.result).toMatchObject({
      status: 'FAILED',
      state: 3,
      errCode: '62003',
      errMsg: 'ORDER_SETTLED',
    });
    expect(missing.result).toMatchObject({
      status: 'FAILED',
      state: 3,
      errCode: '62004',
      errMsg: 'MERCHANT_ORDER_NO_NOT_EXIST',
    });
    // A refusal carries no order: getOrder fills in payOrderId and the amount (required seed fields).
    expect(await row(paid.started.cancelOrderId)).toMatchObject({
      status: 'FAILED',
      state: 3,
      err_code: '62001',
      err_msg: 'ORDER_PAID',
      pay_order_id: world.payby.order('PB-paid')!.orderNo,
      amount_minor: 2174,
      currency: 'AED',
    });
    expect(world.payby.order('PB-paid')!.calls).toEqual(['cancel', 'query']);
    expect((await searchAttributes(settled.started.workflowId)).state).toBe('FAILED');
  });

  test('already failed (62002) is confirmed with getOrder before it counts as cancelled', async () => {
    world.payby.setOrder('PB-failed', { status: 'FAILURE', amount: 0.29 });
    const { started, result } = await cancelPayby('PB-failed');
    expect(result).toMatchObject({ status: 'SUCCEEDED', state: 2, amount: { minor: 29 } });
    expect(world.payby.order('PB-failed')!.calls).toEqual(['cancel', 'query']);
    expect((await calls(started.cancelOrderId)).map((c) => c.outcome)).toEqual(['pending', 'cancelled']);
  });

  for (const fault of ['http402', 'http500', 'http504', 'timeout', 'reset', 'empty'] as const) {
    test(`transient ${fault} twice: queried before any resubmission, then SUCCEEDED`, async () => {
      const ref = `PB-${fault}`;
      world.payby.setOrder(ref, { status: 'CREATED', faults: [fault, fault] });
      const { started, result } = await cancelPayby(ref);
      expect(result).toMatchObject({ status: 'SUCCEEDED', state: 2 });
      const seen = world.payby.order(ref)!.calls;
      // Never two cancels in a row: an unknown answer to a cancel is always followed by a query.
      for (let i = 1; i < seen.length; i++) expect(`${seen[i - 1]}>${seen[i]}`).not.toBe('cancel>cancel');
      expect(seen[0]).toBe('cancel');
      expect(seen.filter((c) => c === 'cancel').length).toBe(2);
      // Every exchange is recorded once (a timeout is recorded from our side too).
      expect(await calls(started.cancelOrderId)).toHaveLength(seen.length);
    });
  }

  test('cancel applied but its response lost: the query finds it cancelled, no second cancel', async () => {
    world.payby.setOrder('PB-lost', { status: 'CREATED', loseCancelResponse: true });
    const { started, result } = await cancelPayby('PB-lost');
    expect(result).toMatchObject({ status: 'SUCCEEDED', state: 2 });
    expect(world.payby.order('PB-lost')!.calls).toEqual(['cancel', 'query']);
    expect((await calls(started.cancelOrderId)).map((c) => c.outcome)).toEqual(['unknown', 'cancelled']);
  });

  test('answers with a bad signature or malformed JSON are never a success: UNRESOLVED at the deadline, visibly', async () => {
    world.payby.setOrder('PB-forged', { status: 'CREATED', badSignature: true });
    world.payby.setOrder('PB-garbage', { status: 'CREATED', malformedJson: true });
    const short = createCancelflowClient({
      client: world.temporal.client,
      config: world.config,
      timings: { ...FAST_TIMINGS, deadlineMs: 2_000, unresolvedHoldMs: 10 },
    });
    for (const ref of ['PB-forged', 'PB-garbage']) {
      const started = await short.startCancellation({ ...PAYBY_APP, mchOrderNo: ref });
      const result = await short.waitForResult(started.workflowId);
      expect(result.status).toBe('UNRESOLVED');
      expect(result.state).toBeLessThan(2);
      expect(await row(started.cancelOrderId)).toMatchObject({ status: 'UNRESOLVED' });
      expect((await searchAttributes(started.workflowId)).state).toBe('UNRESOLVED');
      const outcomes = (await calls(started.cancelOrderId)).map((c) => c.outcome);
      expect(outcomes.length).toBeGreaterThan(1);
      expect(outcomes.every((o) => o === 'unknown')).toBe(true);
    }
    // What an operator types in the Temporal UI: all UNRESOLVED cancellations of one account.
    const unresolved = await eventually(async () => {
      const list = await world.cancelflow.listCancellations({ account: 'payby-test', status: 'UNRESOLVED' });
      const refs = list.map((u) => u.orderRef);
      return refs.includes('mch:PB-forged') && refs.includes('mch:PB-garbage') ? list : undefined;
    });
    // Other suites share the namespace (and the account name): this suite's two are both listed.
    expect(unresolved.every((u) => u.status === 'UNRESOLVED')).toBe(true);
  });
});

describe('cancellation workflow, end to end against the Unified sandbox', () => {
  test('pending for 3 queries, then SUCCEEDED with the gateway cancel id and exact amount', async () => {
    const pay = world.unified.setOrder({ pendingQueries: 3, amountMinor: 435, currency: 'HKD' });
    const { started, result } = await cancelUnified(pay);
    expect(result).toMatchObject({
      status: 'SUCCEEDED',
      state: 2,
      providerCancelId: world.unified.order(pay)!.cancel!.cancelOrderId,
      amount: { minor: 435, currency: 'HKD' },
    });
    expect(result.queries).toBe(4);
    expect((await transitions(started.cancelOrderId)).map((t) => `${t.status}/${t.state}`)).toEqual([
      'RECEIVED/0',
      'SUBMITTED/1',
      'PENDING/1',
      'SUCCEEDED/2',
    ]);
    expect(await row(started.cancelOrderId)).toMatchObject({
      provider_cancel_id: world.unified.order(pay)!.cancel!.cancelOrderId,
      amount_minor: 435,
    });
  });

  test('paid → FAILED/3, already failed → CLOSED/4, not found → FAILED', async () => {
    const paid = world.unified.setOrder({ result: 'paid' });
    const failed = world.unified.setOrder({ result: 'failed' });
    const [a, b, c] = await Promise.all([
      cancelUnified(paid),
      cancelUnified(failed),
      cancelUnified('P-nobody'),
    ]);
    expect(a.result).toMatchObject({ status: 'FAILED', state: 3, errCode: 'ORDER_PAID' });
    expect(b.result).toMatchObject({ status: 'CLOSED', state: 4, errCode: 'ORDER_FAILURE' });
    expect(c.result).toMatchObject({
      status: 'FAILED',
      state: 3,
      errCode: '9999',
      errMsg: 'order does not exist',
    });
    expect((await searchAttributes(b.started.workflowId)).state).toBe('CLOSED');
  });

  for (const fault of ['http402', 'http500', 'http504', 'timeout', 'reset', 'empty'] as const) {
    test(`transient ${fault} twice at the gateway, then SUCCEEDED; every exchange recorded once`, async () => {
      const pay = world.unified.setOrder({ faults: [fault, fault], silent: true });
      const { started, result } = await cancelUnified(pay);
      expect(result).toMatchObject({ status: 'SUCCEEDED', state: 2 });
      expect(world.unified.order(pay)!.calls[0]).toBe('cancel');
      // Every request the gateway saw is one provider_calls row, in order (a query without the
      // gateway's id is never sent, so it has no row).
      const recorded = (await calls(started.cancelOrderId)).map((c) => c.operation);
      expect(recorded).toEqual(world.unified.order(pay)!.calls);
    });
  }

  test('settled → FAILED/3 ORDER_SETTLED; forged or garbled answers → UNRESOLVED, never a success', async () => {
    const settled = world.unified.setOrder({ result: 'settled' });
    expect((await cancelUnified(settled)).result).toMatchObject({
      status: 'FAILED',
      state: 3,
      errCode: 'ORDER_SETTLED',
    });
    const short = createCancelflowClient({
      client: world.temporal.client,
      config: world.config,
      timings: { ...FAST_TIMINGS, deadlineMs: 400, unresolvedHoldMs: 10 },
    });
    for (const behaviour of [{ badSignature: true }, { malformedJson: true }]) {
      const pay = world.unified.setOrder({ ...behaviour, silent: true });
      const started = await short.startCancellation({ ...UNIFIED_APP, payOrderId: pay });
      const result = await short.waitForResult(started.workflowId);
      expect(result.status).toBe('UNRESOLVED');
      expect((await searchAttributes(started.workflowId)).state).toBe('UNRESOLVED');
      expect((await calls(started.cancelOrderId)).every((c) => c.outcome === 'unknown')).toBe(true);
    }
  });

  test('response lost: resubmitted (the gateway is idempotent), one cancel order at the gateway', async () => {
    // No callback from the gateway this time: only the resubmission can find out.
    const pay = world.unified.setOrder({ loseCancelResponse: true, silent: true });
    const { result } = await cancelUnified(pay);
    expect(result).toMatchObject({
      status: 'SUCCEEDED',
      providerCancelId: world.unified.order(pay)!.cancel!.cancelOrderId,
    });
    // The repeat found the cancel order; one query then filled in the amount it did not carry.
    expect(world.unified.order(pay)!.calls).toEqual(['cancel', 'cancel', 'query']);
    expect(result.amount).toEqual({ minor: 100, currency: 'HKD' });
  });

  test('a verified gateway callback wakes the workflow long before its next poll', async () => {
    const slow = createCancelflowClient({
      client: world.temporal.client,
      config: world.config,
      timings: { ...FAST_TIMINGS, pollInitialMs: 10 * 60_000, pollMaxMs: 10 * 60_000 },
    });
    const pay = world.unified.setOrder({ settleAfterMs: 200 });
    const started = await slow.startCancellation({ ...UNIFIED_APP, payOrderId: pay });
    const result = await slow.waitForResult(started.workflowId);
    expect(result).toMatchObject({ status: 'SUCCEEDED', state: 2, queries: 0 });
    const callbacks = await world.database
      .db('provider_callbacks')
      .where({ cancel_order_id: started.cancelOrderId });
    expect(callbacks).toHaveLength(1);
    expect(callbacks[0]).toMatchObject({
      verdict: 'valid',
      signalled: true,
      state: 2,
      account_id: 'unified-test',
    });
    // The gateway got "success" and stopped.
    expect(world.unified.notifications.filter((n) => n.params.payOrderId === pay)).toHaveLength(1);
  });

  test('forged, unknown-account and malformed callbacks are stored with their verdict and change nothing', async () => {
    const slow = createCancelflowClient({
      client: world.temporal.client,
      config: world.config,
      timings: { ...FAST_TIMINGS, pollInitialMs: 60_000, pollMaxMs: 60_000 },
    });
    const pay = world.unified.setOrder({ pendingQueries: 100 });
    const started = await slow.startCancellation({ ...UNIFIED_APP, payOrderId: pay });
    const pending = await eventually(async () => {
      const r = await row(started.cancelOrderId);
      return r?.status === 'PENDING' ? r : undefined;
    });
    const forged: Record<string, string> = {
      cancelOrderId: pending.provider_cancel_id,
      payOrderId: pay,
      mchNo: GATEWAY.mchNo,
      appId: GATEWAY.appId,
      payAmount: '100',
      currency: 'HKD',
      state: '2',
      createdAt: String(Date.now()),
      reqTime: String(Date.now()),
    };
    forged.sign = md5Sign(forged, 'not-the-gateway-key');
    const post = (pathname: string, body: string, type = 'application/x-www-form-urlencoded') =>
      fetch(`${world.apiUrl}${pathname}`, { method: 'POST', headers: { 'content-type': type }, body });
    const forgedAnswer = await post(
      '/callbacks/unified/unified-test',
      new URLSearchParams(forged).toString(),
    );
    expect(forgedAnswer.status).toBe(401);
    expect(await forgedAnswer.text()).not.toBe('success');
    expect((await post('/callbacks/unified/nobody', new URLSearchParams(forged).toString())).status).toBe(
      404,
    );
    expect((await post('/callbacks/unified/unified-test', '{"state":', 'application/json')).status).toBe(400);

    const stored = await world.database
      .db('provider_callbacks')
      .where({ provider_cancel_id: pending.provider_cancel_id })
      .orWhere({ account_id: 'nobody' })
      .orderBy('id')
      .select('verdict', 'signalled');
    expect(stored.map((s) => s.verdict)).toEqual(['invalid-signature', 'unknown-account']);
    expect(await world.database.db('provider_callbacks').where({ verdict: 'malformed' })).toHaveLength(1);
    expect(await row(started.cancelOrderId)).toMatchObject({ status: 'PENDING', state: 1 });
    expect((await slow.getCancellation(started.cancelOrderId)).status).toBe('PENDING');
    await world.temporal.client.workflow.getHandle(started.workflowId).terminate('test done');
  });
});

describe('idempotency and input validation', () => {
  test('concurrent duplicate starts give one cancellation and one provider cancel call', async () => {
    world.payby.setOrder('PB-dup', { status: 'CREATED' });
    const starts = await Promise.all(
      Array.from({ length: 5 }, () =>
        world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo: 'PB-dup' }),
      ),
    );
    expect(new Set(starts.map((s) => s.cancelOrderId)).size).toBe(1);
    expect(starts.filter((s) => s.created)).toHaveLength(1);
    await world.cancelflow.waitForResult(starts[0]!.workflowId);
    // Sequential, after it finished: the same cancellation, no second provider call.
    const again = await world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo: 'PB-dup' });
    expect(again).toMatchObject({
      cancelOrderId: starts[0]!.cancelOrderId,
      workflowId: starts[0]!.workflowId,
      created: false,
      answer: { status: 'SUCCEEDED', state: 2 },
    });
    expect(world.payby.order('PB-dup')!.calls).toEqual(['cancel']);
    expect(await world.database.db('cancellations').where({ order_ref: 'mch:PB-dup' })).toHaveLength(1);
    expect((await world.cancelflow.getCancellation(starts[0]!.cancelOrderId)).status).toBe('SUCCEEDED');
  });

  test('bad input is refused before anything starts, naming the field', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...PAYBY_APP }, 'payOrderId'],
      [{ ...PAYBY_APP, mchOrderNo: 'x'.repeat(31) }, 'mchOrderNo'],
      [{ ...PAYBY_APP, mchOrderNo: 'ok', notifyUrl: 'ftp://x' }, 'notifyUrl'],
      [{ ...PAYBY_APP, mchNo: '', mchOrderNo: 'ok' }, 'mchNo'],
      [{ appId: PAYBY_APP.appId, mchOrderNo: 'ok' }, 'mchNo'],
      [{ ...PAYBY_APP, mchOrderNo: 42 }, 'mchOrderNo'],
      [{ ...PAYBY_APP, mchOrderNo: 'ok', extParam: 'e'.repeat(513) }, 'extParam'],
    ];
    for (const [request, field] of cases) {
      const error = await world.cancelflow.startCancellation(request as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).field).toBe(field);
    }
    const unknown = await world.cancelflow
      .startCancellation({ mchNo: 'M0', appId: 'nope', mchOrderNo: 'ok' })
      .catch((e: unknown) => e);
    expect(unknown).toMatchObject({ code: 'UNKNOWN_APP' });
    expect(unknown).toBeInstanceOf(CancelflowError);
    expect(await world.database.db('cancellations').where({ mch_order_no: 'ok' })).toHaveLength(0);
  });
});

describe('durability', () => {
  test('worker stopped mid-poll: another worker finishes it, no duplicate rows', async () => {
    const pay = world.unified.setOrder({ pendingQueries: 6 });
    const started = await world.cancelflow.startCancellation({ ...UNIFIED_APP, payOrderId: pay });
    await eventually(async () => (world.unified.order(pay)?.cancel?.queries ?? 0) >= 2);
    await world.stopWorker();
    const queriesWhileDown = world.unified.order(pay)!.cancel!.queries;
    await new Promise((r) => setTimeout(r, 300));
    expect(world.unified.order(pay)!.cancel!.queries).toBe(queriesWhileDown);
    await world.startWorker();
    const result = await world.cancelflow.waitForResult(started.workflowId);
    expect(result.status).toBe('SUCCEEDED');
    const seqs = (await transitions(started.cancelOrderId)).map((t) => t.seq);
    expect(seqs).toEqual([0, 1, 2, 3]);
    const exchanges = await calls(started.cancelOrderId);
    expect(exchanges).toHaveLength(world.unified.order(pay)!.calls.length);
    expect(new Set(exchanges.map((e) => e.exchange_key)).size).toBe(exchanges.length);
  });
});

describe('continue-as-new', () => {
  test('a long poll crosses continue-as-new: the next run carries the state; one cancel sent, seqs unbroken, one answer', async () => {
    const pay = world.unified.setOrder({ pendingQueries: 8, amountMinor: 435, currency: 'HKD' });
    // A low limit, frozen into the input: the run continues as new after a few poll rounds.
    const cf = createCancelflowClient({
      client: world.temporal.client,
      config: world.config,
      timings: FAST_TIMINGS,
      historyLimit: 40,
    });
    const started = await cf.startCancellation({ ...UNIFIED_APP, payOrderId: pay });
    const result = await cf.waitForResult(started.workflowId);
    expect(result).toMatchObject({
      cancelOrderId: started.cancelOrderId,
      status: 'SUCCEEDED',
      state: 2,
      amount: { minor: 435, currency: 'HKD' },
    });
    const runs = await eventually(async () => {
      const seen: string[] = [];
      for await (const e of world.temporal.client.workflow.list({
        query: `WorkflowId = '${started.workflowId}'`,
      }))
        seen.push(e.status.name);
      return seen.includes('COMPLETED') ? seen : undefined;
    });
    expect(runs.filter((r) => r === 'CONTINUED_AS_NEW').length).toBeGreaterThanOrEqual(2);
    // The next run knew the gateway's cancel id and asked: the cancel went out once.
    const sent = world.unified.order(pay)!.calls;
    expect(sent.filter((c) => c === 'cancel')).toHaveLength(1);
    expect(sent.filter((c) => c === 'query')).toHaveLength(9);
    expect(result.queries).toBe(9);
    expect(result.submits).toBe(1);
    // One row, transitions numbered without a gap or a repeat across the runs.
    expect(await world.database.db('cancellations').where({ pay_order_id: pay })).toHaveLength(1);
    const seqs = (await transitions(started.cancelOrderId)).map((t) => t.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i));
    const exchanges = await calls(started.cancelOrderId);
    expect(exchanges).toHaveLength(sent.length);
  });
});

describe('replay', () => {
  test('every completed run of this suite replays with the current workflow code', async () => {
    const { histories, failures } = await replayCompletedRuns(world);
    expect(histories.length).toBeGreaterThan(20);
    expect(failures).toEqual([]);
    // RECORD_HISTORIES=1 npm test -- cancellation: refresh the committed fixtures (test/replay).
    const keep = /mch:PB-(ok|failed|lost|http500|forged|dup|paid)$|^notify\//;
    const unified = histories.filter((h) => h.workflowId.startsWith('cancel/unified-test/')).slice(0, 3);
    recordFixtures([...histories.filter((h) => keep.test(h.workflowId)).slice(0, 9), ...unified]);
  });
});
