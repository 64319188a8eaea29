import { createCancelflowClient } from '../../client';
import { recordFixtures, replayCompletedRuns } from '../helpers/replay';
import { CancelFollowUp } from '../../workflows/search-attributes';
import { verifyMd5Sign } from '../../providers/unified/sign';
import {
  createWorld,
  eventually,
  FAST_TIMINGS,
  PAYBY_APP,
  REFUND_APP,
  REVOKE_APP,
  startReceiver,
  type Receiver,
  type World,
} from '../helpers/world';

/**
 * Seed 000's promise for a completed (paid) order, as a per-app policy, through the real stack:
 * PayBy revoke for a payment made today, refund in full for a settled or older one; each money
 * movement happens exactly once, whatever answers are lost.
 */

let world: World;
let merchant: Receiver;

beforeAll(async () => {
  [world, merchant] = await Promise.all([
    createWorld({ paidOrderApps: true }),
    startReceiver(() => 'success'),
  ]);
});
afterAll(async () => {
  await merchant?.close();
  await world?.close();
});

const row = (id: string) => world.database.db('cancellations').where({ cancel_order_id: id }).first();
const DAY = 24 * 60 * 60_000;

async function cancel(app: typeof REVOKE_APP, mchOrderNo: string) {
  const started = await world.cancelflow.startCancellation({ ...app, mchOrderNo, notifyUrl: merchant.url });
  const result = await world.cancelflow.waitForResult(started.cancelOrderId);
  return { started, result };
}

test('paid today, policy revoke: revoked once, SUCCEEDED/2, CancelFollowUp=revoke, the merchant told 2', async () => {
  world.payby.setOrder('PO-today', {
    status: 'PAID_SUCCESS',
    amount: 12.5,
    currency: 'AED',
    paidAt: Date.now(),
  });
  const { started, result } = await cancel(REVOKE_APP, 'PO-today');
  expect(result).toMatchObject({
    status: 'SUCCEEDED',
    state: 2,
    followUp: 'revoke',
    amount: { minor: 1250 },
  });
  const order = world.payby.order('PO-today')!;
  expect(order.revokes).toBe(1);
  expect(order.status).toBe('FAILURE');
  const sa = (await world.temporal.client.workflow.getHandle(started.workflowId).describe())
    .typedSearchAttributes;
  expect(sa.get(CancelFollowUp)).toBe('revoke');
  const calls = await world.database
    .db('provider_calls')
    .where({ cancel_order_id: started.cancelOrderId })
    .pluck('operation');
  expect(calls).toContain('revoke');
  const told = await eventually(async () =>
    merchant.received.find((r) => r.params.cancelOrderId === started.cancelOrderId),
  );
  expect(told.params.state).toBe('2');
  expect(verifyMd5Sign(told.params, told.params.sign, REVOKE_APP.key)).toBe(true);
});

test('paid yesterday, policy revoke: refused by policy with a clear errMsg, nothing moved', async () => {
  world.payby.setOrder('PO-yesterday', { status: 'PAID_SUCCESS', paidAt: Date.now() - 2 * DAY });
  const { started, result } = await cancel(REVOKE_APP, 'PO-yesterday');
  expect(result).toMatchObject({ status: 'FAILED', state: 3, errCode: '62001' });
  expect(result.errMsg).toMatch(/not today .*policy "revoke" reverses same-day payments only/);
  expect(world.payby.order('PO-yesterday')!.revokes).toBe(0);
  expect(world.payby.order('PO-yesterday')!.refunds).toBe(0);
  expect(await row(started.cancelOrderId)).toMatchObject({ state: 3, err_code: '62001' });
});

test('settled, policy revokeOrRefund: refund CREATED, then SUCCESS after 2 queries; one refund; refund id in channelOrderNo', async () => {
  world.payby.setOrder('PO-settled', {
    status: 'SETTLED',
    amount: 30.01,
    currency: 'AED',
    paidAt: Date.now() - 3 * DAY,
    refundSucceedsAfterQueries: 2,
  });
  const { started, result } = await cancel(REFUND_APP, 'PO-settled');
  const refundId = `R${started.cancelOrderId.slice(1)}`;
  expect(result).toMatchObject({
    status: 'SUCCEEDED',
    state: 2,
    followUp: 'refund',
    channelOrderNo: refundId,
  });
  expect(world.payby.order('PO-settled')!.refunds).toBe(1);
  expect(await world.database.db('refunds').where({ refund_id: refundId }).first()).toMatchObject({
    cancel_order_id: started.cancelOrderId,
    status: 'SUCCESS',
    amount_minor: 3001,
    currency: 'AED',
  });
  expect(await row(started.cancelOrderId)).toMatchObject({ channel_order_no: refundId, state: 2 });
});

test('paid with a discount: the refund in full gives back what the payer paid (paymentInfo.paidAmount), not the order total', async () => {
  world.payby.setOrder('PO-discount', {
    status: 'SETTLED',
    amount: 30.01,
    paidAmount: 25,
    currency: 'AED',
    paidAt: Date.now() - 3 * DAY,
  });
  const { started, result } = await cancel(REFUND_APP, 'PO-discount');
  // The cancellation reports the order's total, as a revoke does; the refund row what was given back.
  expect(result).toMatchObject({
    status: 'SUCCEEDED',
    state: 2,
    followUp: 'refund',
    amount: { minor: 3001 },
  });
  expect(world.payby.order('PO-discount')!.refunds).toBe(1);
  expect(
    await world.database
      .db('refunds')
      .where({ cancel_order_id: started.cancelOrderId })
      .select('amount_minor'),
  ).toEqual([{ amount_minor: 2500 }]);
  expect(world.payby.refund(`R${started.cancelOrderId.slice(1)}`)).toMatchObject({
    amountMinor: 2500,
    status: 'SUCCESS',
  });
});

test('a paid amount of nothing or more than the order is not refunded: the refusal stands, saying why', async () => {
  for (const [mchOrderNo, paidAmount, why] of [
    ['PO-paid-nothing', 0, 'is not within'],
    ['PO-paid-more', 31, 'is not within'],
  ] as const) {
    world.payby.setOrder(mchOrderNo, {
      status: 'SETTLED',
      amount: 30.01,
      paidAmount,
      currency: 'AED',
      paidAt: Date.now() - 3 * DAY,
    });
    const { result } = await cancel(REFUND_APP, mchOrderNo);
    expect(result).toMatchObject({ status: 'FAILED', state: 3, errCode: '62003' });
    expect(result.errMsg).toContain(why);
    expect(world.payby.order(mchOrderNo)!.refunds).toBe(0);
  }
});

test('refund FAILURE: FAILED/3 with the channel code; the notification says 3', async () => {
  world.payby.setOrder('PO-refund-fails', {
    status: 'SETTLED',
    paidAt: Date.now() - 3 * DAY,
    refundFails: true,
  });
  const { started, result } = await cancel(REFUND_APP, 'PO-refund-fails');
  expect(result).toMatchObject({ status: 'FAILED', state: 3, followUp: 'refund' });
  expect(result.errCode).toMatch(/^62\d{3}$/);
  expect(world.payby.order('PO-refund-fails')!.refunds).toBe(1);
  const told = await eventually(async () =>
    merchant.received.find((r) => r.params.cancelOrderId === started.cancelOrderId),
  );
  expect(told.params.state).toBe('3');
});

test('revoke answer lost (applied): getOrder shows it revoked, no second revoke', async () => {
  world.payby.setOrder('PO-lost-revoke', {
    status: 'PAID_SUCCESS',
    paidAt: Date.now(),
    loseRevokeResponse: true,
  });
  const { result } = await cancel(REVOKE_APP, 'PO-lost-revoke');
  expect(result).toMatchObject({ status: 'SUCCEEDED', state: 2 });
  expect(world.payby.order('PO-lost-revoke')!.revokes).toBe(1);
});

test('revoke answer lost, getOrder lagging it: the repeat is refused (62041) and that is not the verdict; getOrder confirms it revoked', async () => {
  // Revoke #1 is applied and its answer lost; getOrder still shows the order paid once, so the run
  // sends revoke #2, which PayBy refuses because #1 reversed the payment.
  world.payby.setOrder('PO-lagging-revoke', {
    status: 'PAID_SUCCESS',
    paidAt: Date.now(),
    loseRevokeResponse: true,
    staleQueriesAfterRevoke: 1,
  });
  const { result } = await cancel(REVOKE_APP, 'PO-lagging-revoke');
  const order = world.payby.order('PO-lagging-revoke')!;
  expect(order.calls.filter((c) => c === 'revoke')).toHaveLength(2);
  expect(result).toMatchObject({ status: 'SUCCEEDED', state: 2, followUp: 'revoke' });
  expect(order.revokes).toBe(1);
});

test('refund placeOrder answer lost (applied): the refund query by our id finds it, no second refund', async () => {
  world.payby.setOrder('PO-lost-refund', {
    status: 'SETTLED',
    paidAt: Date.now() - 3 * DAY,
    loseRefundResponse: true,
    refundSucceedsAfterQueries: 1,
  });
  const { result } = await cancel(REFUND_APP, 'PO-lost-refund');
  expect(result).toMatchObject({ status: 'SUCCEEDED', state: 2, followUp: 'refund' });
  expect(world.payby.order('PO-lost-refund')!.refunds).toBe(1);
});

test('a revoke that timed out, then a repeat refused for a reason of its own (62039): that refusal is the verdict', async () => {
  world.payby.setOrder('PO-revoke-refused-after-504', {
    status: 'PAID_SUCCESS',
    paidAt: Date.now(),
    failFirstRevokes: 1,
    revokeRefusal: { code: '62039', msg: 'REVOKE_FAILURE' },
  });
  const { result } = await cancel(REVOKE_APP, 'PO-revoke-refused-after-504');
  const order = world.payby.order('PO-revoke-refused-after-504')!;
  expect(order.calls.filter((c) => c === 'revoke')).toHaveLength(2);
  expect(result).toMatchObject({ status: 'FAILED', state: 3, errCode: '62039', followUp: 'revoke' });
  expect(order.revokes).toBe(0);
});

test('a revoke that timed out, then a repeat answered as misconfiguration (403): confirmed, never FAILED (retryable would restart it as a cancel)', async () => {
  world.payby.setOrder('PO-revoke-403-after-504', {
    status: 'PAID_SUCCESS',
    paidAt: Date.now(),
    failFirstRevokes: 1,
    revokeRefusal: { code: '403', msg: 'FORBIDDEN' },
  });
  const cf = createCancelflowClient({
    client: world.temporal.client,
    config: world.config,
    timings: { ...FAST_TIMINGS, deadlineMs: 2_000 },
  });
  const started = await cf.startCancellation({ ...REVOKE_APP, mchOrderNo: 'PO-revoke-403-after-504' });
  expect(await cf.waitForResult(started.cancelOrderId)).toMatchObject({
    status: 'UNRESOLVED',
    state: 1,
    followUp: 'revoke',
  });
  const order = world.payby.order('PO-revoke-403-after-504')!;
  expect(order.calls.filter((c) => c === 'revoke').length).toBeGreaterThanOrEqual(2);
  expect(order.revokes).toBe(0);
});

test('refund answer lost, refund/getOrder lagging it: the repeat refused (62041) is not the verdict; the query finds it', async () => {
  world.payby.setOrder('PO-lagging-refund', {
    status: 'SETTLED',
    paidAt: Date.now() - 3 * DAY,
    loseRefundResponse: true,
    staleRefundQueries: 1,
    repeatedRefund: 'refunded',
  });
  const { result } = await cancel(REFUND_APP, 'PO-lagging-refund');
  const order = world.payby.order('PO-lagging-refund')!;
  expect(order.calls.filter((c) => c === 'refund')).toHaveLength(2);
  expect(result).toMatchObject({ status: 'SUCCEEDED', state: 2, followUp: 'refund' });
  expect(order.refunds).toBe(1);
});

test('a follow-up UNRESOLVED at its deadline is not retried (a new run could refund again under a new id); the record stands', async () => {
  world.payby.setOrder('PO-unsettled-refund', {
    status: 'SETTLED',
    paidAt: Date.now() - 3 * DAY,
    refundSucceedsAfterQueries: 1_000_000,
  });
  const cf = createCancelflowClient({
    client: world.temporal.client,
    config: world.config,
    timings: { ...FAST_TIMINGS, deadlineMs: 2_000 },
  });
  const started = await cf.startCancellation({ ...REFUND_APP, mchOrderNo: 'PO-unsettled-refund' });
  const result = await cf.waitForResult(started.cancelOrderId);
  expect(result).toMatchObject({ status: 'UNRESOLVED', state: 1, followUp: 'refund' });
  // The merchant asks again first: a new run answers from the row (and says it is a follow-up).
  const repeat = await cf.startCancellation({ ...REFUND_APP, mchOrderNo: 'PO-unsettled-refund' });
  expect(repeat.answer).toMatchObject({ cancelOrderId: started.cancelOrderId, followUp: 'refund' });
  await world.temporal.client.workflow.getHandle(started.workflowId).result();
  await expect(cf.retryCancellation(started.cancelOrderId, { force: true })).rejects.toMatchObject({
    code: 'FOLLOW_UP_UNSETTLED',
  });
  // Past the client's check (another caller, a race): the record answers, nothing is sent.
  const again = await cf.startCancellation(
    { ...REFUND_APP, mchOrderNo: 'PO-unsettled-refund' },
    { retryOf: { cancelOrderId: started.cancelOrderId, force: true } },
  );
  expect(again.cancelOrderId).toBe(started.cancelOrderId);
  await cf.waitForResult(started.cancelOrderId);
  const order = world.payby.order('PO-unsettled-refund')!;
  expect(order.calls.filter((c) => c === 'refund')).toHaveLength(1);
  expect(order.refunds).toBe(1);
  expect(await row(started.cancelOrderId)).toMatchObject({ status: 'UNRESOLVED', retired_at: null });
});

test('a revoke in progress whose run was terminated is not carried on as a cancel (it would read its own revoke as 62040 FAILED)', async () => {
  // Revoke #1 lands, its answer is lost, and getOrder shows the order paid for a long while: the
  // run keeps confirming, and is terminated meanwhile.
  world.payby.setOrder('PO-terminated-revoke', {
    status: 'PAID_SUCCESS',
    paidAt: Date.now(),
    loseRevokeResponse: true,
    staleQueriesAfterRevoke: 1_000_000,
  });
  const started = await world.cancelflow.startCancellation(
    { ...REVOKE_APP, mchOrderNo: 'PO-terminated-revoke' },
    { waitMs: 2_000 },
  );
  await eventually(async () =>
    (await row(started.cancelOrderId))?.follow_up === 'revoke' ? true : undefined,
  );
  const order = world.payby.order('PO-terminated-revoke')!;
  await eventually(async () => (order.revokes === 1 ? true : undefined));
  await world.temporal.client.workflow.getHandle(started.workflowId).terminate('test: stopped mid-revoke');
  order.lagging!.queries = 0; // getOrder now shows it: FAILURE, revoked "true"
  const revokesSent = order.calls.filter((c) => c === 'revoke').length;
  // The merchant asks again: the run that owned it is gone.
  const again = await world.cancelflow.startCancellation({
    ...REVOKE_APP,
    mchOrderNo: 'PO-terminated-revoke',
  });
  expect(again.cancelOrderId).toBe(started.cancelOrderId);
  // Answered from the row, now UNRESOLVED (what ops look for), state 1: never 62040 FAILED.
  expect(again.answer).toMatchObject({ status: 'UNRESOLVED', state: 1, followUp: 'revoke' });
  await world.temporal.client.workflow.getHandle(started.workflowId).result();
  expect(order.calls.filter((c) => c === 'revoke')).toHaveLength(revokesSent);
  expect(order.revokes).toBe(1);
  const stranded = await row(started.cancelOrderId);
  expect(stranded).toMatchObject({ status: 'UNRESOLVED', state: 1, follow_up: 'revoke' });
  const last = await world.database
    .db('cancellation_transitions')
    .where({ cancel_order_id: started.cancelOrderId })
    .orderBy('seq', 'desc')
    .first();
  expect(last).toMatchObject({ status: 'UNRESOLVED' });
  expect(last.reason).toContain('run stopped during the revoke of the paid order');
});

test('an UNRESOLVED revoke that moved no money is retried only with --money-checked, and then revoked once', async () => {
  // Every revoke times out without landing until the deadline: UNRESOLVED, follow-up revoke.
  world.payby.setOrder('PO-checked-revoke', {
    status: 'PAID_SUCCESS',
    paidAt: Date.now(),
    failFirstRevokes: 1_000_000,
  });
  const cf = createCancelflowClient({
    client: world.temporal.client,
    config: world.config,
    timings: { ...FAST_TIMINGS, deadlineMs: 2_000 },
  });
  const started = await cf.startCancellation({ ...REVOKE_APP, mchOrderNo: 'PO-checked-revoke' });
  expect(await cf.waitForResult(started.cancelOrderId)).toMatchObject({
    status: 'UNRESOLVED',
    followUp: 'revoke',
  });
  const order = world.payby.order('PO-checked-revoke')!;
  expect(order.revokes).toBe(0);
  await expect(cf.retryCancellation(started.cancelOrderId, { force: true })).rejects.toMatchObject({
    code: 'FOLLOW_UP_UNSETTLED',
  });
  // Ops checked at PayBy: the order is paid and not revoked. PayBy answers again.
  order.failFirstRevokes = 0;
  const retried = await cf.retryCancellation(started.cancelOrderId, { force: true, moneyChecked: true });
  expect(retried.cancelOrderId).not.toBe(started.cancelOrderId);
  expect(await cf.waitForResult(retried.cancelOrderId)).toMatchObject({
    status: 'SUCCEEDED',
    state: 2,
    followUp: 'revoke',
  });
  expect(order.revokes).toBe(1);
  expect(await row(started.cancelOrderId)).toMatchObject({ status: 'UNRESOLVED' });
  expect((await row(started.cancelOrderId)).retired_at).not.toBeNull();
});

test('an app without a policy keeps refusing paid orders (62001), nothing moved', async () => {
  world.payby.setOrder('PO-refuse', { status: 'PAID_SUCCESS', paidAt: Date.now() });
  const started = await world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo: 'PO-refuse' });
  const result = await world.cancelflow.waitForResult(started.cancelOrderId);
  expect(result).toMatchObject({ status: 'FAILED', state: 3, errCode: '62001', errMsg: 'ORDER_PAID' });
  expect(world.payby.order('PO-refuse')!.revokes).toBe(0);
});

test('reconciliation knows the follow-ups: a revoked order and a refunded one match our state 2; a refund still CREATED is pending', async () => {
  const since = Date.now() - 60 * 60_000;
  world.payby.setOrder('PO-rec-open', {
    status: 'SETTLED',
    paidAt: Date.now() - 3 * DAY,
    refundSucceedsAfterQueries: 1_000,
  });
  const open = await world.cancelflow.startCancellation(
    { ...REFUND_APP, mchOrderNo: 'PO-rec-open' },
    { waitMs: 2_000 },
  );
  await eventually(async () => ((await row(open.cancelOrderId))?.follow_up === 'refund' ? true : undefined));
  const result = await world.temporal.client.workflow.execute('reconciliationWorkflow', {
    workflowId: `reconcile/paid-${world.temporal.taskQueue}`,
    taskQueue: world.temporal.taskQueue,
    args: [{ from: since, to: Date.now() + 1_000, accountId: 'payby-test' }],
  });
  const items = await world.database
    .db('reconciliation_items as i')
    .join('cancellations as c', 'c.cancel_order_id', 'i.cancel_order_id')
    .where({ 'i.run_id': (result as { runId: string }).runId })
    .select('c.mch_order_no', 'i.class');
  const classOf = Object.fromEntries(items.map((i) => [i.mch_order_no, i.class]));
  expect(classOf['PO-today']).toBe('MATCHED'); // revoked at PayBy, SUCCEEDED here
  expect(classOf['PO-settled']).toBe('MATCHED'); // refund SUCCESS at PayBy, SUCCEEDED here
  expect(classOf['PO-refund-fails']).toBe('MATCHED'); // refund FAILURE at PayBy, FAILED here
  expect(classOf['PO-rec-open']).toBe('STILL_PENDING'); // refund CREATED at PayBy: not final, not repaired
  expect(await row(open.cancelOrderId)).toMatchObject({ status: 'PENDING', state: 1 });
  await world.temporal.client.workflow.getHandle(open.workflowId).terminate('test done');
}, 60_000);

test('ops follow up by hand on a refused paid order: revoke (any day) or refund, the reason kept; nothing else qualifies', async () => {
  world.payby.setOrder('PO-by-hand', {
    status: 'PAID_SUCCESS',
    amount: 9.99,
    currency: 'AED',
    paidAt: Date.now() - 2 * DAY,
  });
  const first = await world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo: 'PO-by-hand' });
  expect(await world.cancelflow.waitForResult(first.cancelOrderId)).toMatchObject({
    status: 'FAILED',
    errCode: '62001',
  });

  const revoked = await world.cancelflow.followUpCancellation(first.cancelOrderId, {
    via: 'revoke',
    reason: 'merchant called, ticket 42',
  });
  expect(revoked.cancelOrderId).not.toBe(first.cancelOrderId);
  const result = await world.cancelflow.waitForResult(revoked.cancelOrderId);
  expect(result).toMatchObject({ status: 'SUCCEEDED', state: 2, followUp: 'revoke' });
  expect(world.payby.order('PO-by-hand')!.revokes).toBe(1);
  const firstReason = await world.database
    .db('cancellation_transitions')
    .where({ cancel_order_id: revoked.cancelOrderId, seq: 0 })
    .first('reason');
  expect(firstReason.reason).toBe('by hand: follow-up --revoke: merchant called, ticket 42');
  // A cancellation that is not a paid-order refusal has no follow-up.
  await expect(
    world.cancelflow.followUpCancellation(revoked.cancelOrderId, { via: 'refund', reason: 'again' }),
  ).rejects.toMatchObject({ code: 'NOT_A_PAID_ORDER' });
}, 60_000);

test('every completed run of this suite replays; RECORD_HISTORIES=1 keeps the follow-up paths as fixtures', async () => {
  const { histories, failures } = await replayCompletedRuns(world, 'cancellationWorkflow');
  expect(histories.length).toBeGreaterThan(5);
  expect(failures).toEqual([]);
  const keep = /mch:PO-(today|settled|lost-revoke|lost-refund|yesterday|lagging-revoke|lagging-refund)$/;
  recordFixtures(histories.filter((h) => keep.test(h.workflowId)));
}, 60_000);
