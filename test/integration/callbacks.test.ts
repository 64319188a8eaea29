import { createActivities } from '../../activities';
import { createCancelflowClient } from '../../client';
import { createLogger } from '../../common/logger';
import { recordFixtures, replayCompletedRuns } from '../helpers/replay';
import { md5Sign } from '../../providers/unified/sign';
import { notificationWorkflowId, repairWorkflowId } from '../../contract/ids';
import { WorkflowNotFoundError } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { providerOutcomeSignal } from '../../workflows/definitions';
import { CancelOrderId, CancelState } from '../../workflows/search-attributes';
import {
  createWorld,
  eventually,
  FAST_TIMINGS,
  GATEWAY,
  startReceiver,
  UNIFIED_APP,
  type Receiver,
  type World,
} from '../helpers/world';

/**
 * Provider callbacks: a verified one always counts (even after the workflow closed), and nobody
 * can settle a cancellation by sending the workflow a signal by hand.
 */

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

/** A client whose cancellations poll every 10 minutes: only a callback can finish them in a test. */
const slowPolling = () =>
  createCancelflowClient({
    client: world.temporal.client,
    config: world.config,
    timings: { ...FAST_TIMINGS, pollInitialMs: 10 * 60_000, pollMaxMs: 10 * 60_000 },
  });

test('a hand-crafted signal settles nothing: an inline outcome is ignored, a made-up or forged callback is not believed', async () => {
  const pay = world.unified.setOrder({ pendingQueries: 1_000, silent: true });
  const cf = slowPolling();
  const started = await cf.startCancellation({ ...UNIFIED_APP, payOrderId: pay });
  await eventually(async () => ((await row(started.cancelOrderId))?.status === 'PENDING' ? true : undefined));
  const handle = world.temporal.client.workflow.getHandle(started.workflowId);

  // What someone with namespace access could send from the Web UI.
  await handle.signal('providerOutcome', { source: 'callback', outcome: { kind: 'cancelled' } } as never);
  await handle.signal(providerOutcomeSignal, { source: 'callback', reference: '999999999' });
  // A forged callback that our endpoint stored (with its verdict) and refused.
  const [forged] = await world.database
    .db('provider_callbacks')
    .insert({
      account_id: 'unified-test',
      raw_body: JSON.stringify({ cancelOrderId: 'C1', state: '2', sign: 'x' }),
      content_type: 'application/json',
      verdict: 'invalid-signature',
    })
    .returning<Array<{ id: number }>>('id');
  await handle.signal(providerOutcomeSignal, { source: 'callback', reference: String(forged!.id) });

  // Each signal woke the run, which re-read the callback it names and believed none of them.
  await eventually(async () => {
    const { events } = await handle.fetchHistory();
    const verified = events!.filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'verifiedCallbackOutcome',
    );
    const done = events!.filter((e) => e.activityTaskCompletedEventAttributes);
    return verified.length === 3 && done.length >= 4 ? true : undefined; // the cancel + 3 verifications
  }, 20_000);
  expect(await row(started.cancelOrderId)).toMatchObject({ status: 'PENDING', state: 1 });
  expect((await handle.describe()).status.name).toBe('RUNNING');
  await handle.terminate('test done');
});

test('a verified callback after the workflow closed (UNRESOLVED, hold over) is applied by a repair: row, notification, Temporal', async () => {
  // The gateway settles 4 s after the cancel; our run gives up after 1.5 s and stops holding at once.
  const pay = world.unified.setOrder({ settleAfterMs: 4_000, amountMinor: 250, currency: 'HKD' });
  const cf = createCancelflowClient({
    client: world.temporal.client,
    config: world.config,
    timings: { ...FAST_TIMINGS, deadlineMs: 1_500, unresolvedHoldMs: 10 },
  });
  const started = await cf.startCancellation({ ...UNIFIED_APP, payOrderId: pay, notifyUrl: merchant.url });
  const closed = await cf.waitForResult(started.cancelOrderId);
  expect(closed).toMatchObject({ status: 'UNRESOLVED', state: 1 });
  const closedRunId = (await world.temporal.client.workflow.getHandle(started.workflowId).describe()).runId;

  // The gateway's notification arrives later: stored, verified, and the record completed.
  const repaired = await eventually(async () => {
    const r = await row(started.cancelOrderId);
    return r?.status === 'SUCCEEDED' ? r : undefined;
  }, 20_000);
  expect(repaired).toMatchObject({ state: 2 });
  const callback = await world.database
    .db('provider_callbacks')
    .where({ cancel_order_id: started.cancelOrderId, verdict: 'valid' })
    .first();
  expect(callback).toMatchObject({ signalled: true, state: 2 });
  const reasons = await world.database
    .db('cancellation_transitions')
    .where({ cancel_order_id: started.cancelOrderId })
    .orderBy('seq')
    .pluck('reason');
  expect(reasons.at(-1)).toBe(`verified callback ${callback.id}`);
  // The repair's activity once more, as after a worker that died once it had committed: what
  // follows the record (the run that shows it, the notification) is still due; nothing is written.
  const activities = createActivities({
    db: world.database.db,
    config: world.config,
    logger: createLogger('silent'),
  });
  expect(
    await activities.repairFromCallback({
      callbackId: String(callback.id),
      cancelOrderId: started.cancelOrderId,
    }),
  ).toMatchObject({
    applied: true,
    reason: 'duplicate',
    notify: true,
    recordRun: { workflowId: started.workflowId },
  });
  expect(
    await world.database.db('cancellation_transitions').where({ cancel_order_id: started.cancelOrderId }),
  ).toHaveLength(reasons.length);
  // The merchant is told the final state.
  const told = await eventually(async () =>
    merchant.received.find((r) => r.params.cancelOrderId === started.cancelOrderId),
  );
  expect(told.params.state).toBe('2');
  // Visible in Temporal: a repair run carrying the cancellation's id and its new state.
  const repair = world.temporal.client.workflow.getHandle(`repair/${started.cancelOrderId}/${callback.id}`);
  expect(await repair.result()).toMatchObject({ applied: true });
  const sa = (await repair.describe()).typedSearchAttributes;
  expect(sa.get(CancelOrderId)).toBe(started.cancelOrderId);
  expect(sa.get(CancelState)).toBe('SUCCEEDED');
  // The cancellation's own workflow id tells the truth too: its newest run records the repair
  // (the closed run's search attributes cannot change), and the list shows that run only.
  const newest = await eventually(async () => {
    const d = await world.temporal.client.workflow.getHandle(started.workflowId).describe();
    return d.status.name === 'COMPLETED' && d.runId !== closedRunId ? d : undefined;
  });
  expect(newest.typedSearchAttributes.get(CancelState)).toBe('SUCCEEDED');
  expect(newest.typedSearchAttributes.get(CancelOrderId)).toBe(started.cancelOrderId);
  expect(await world.temporal.client.workflow.getHandle(started.workflowId).result()).toMatchObject({
    cancelOrderId: started.cancelOrderId,
    status: 'SUCCEEDED',
    state: 2,
  });
  const unresolved = await cf.listCancellations({ status: 'UNRESOLVED', limit: 1000 });
  expect(unresolved.map((c) => c.workflowId)).not.toContain(started.workflowId);
  const listed = await eventually(async () => {
    const all = await cf.listCancellations({ mchNo: UNIFIED_APP.mchNo, limit: 1000 });
    const mine = all.filter((c) => c.workflowId === started.workflowId);
    return mine.length === 1 && mine[0]!.status === 'SUCCEEDED' ? mine : undefined;
  });
  expect(listed[0]).toMatchObject({ cancelOrderId: started.cancelOrderId });
  // Nobody was told twice: the record run notifies nobody.
  await new Promise((r) => setTimeout(r, 500));
  expect(merchant.received.filter((r) => r.params.cancelOrderId === started.cancelOrderId)).toHaveLength(1);
  // A repeat of the merchant's request is answered from the truth.
  const again = await cf.startCancellation({ ...UNIFIED_APP, payOrderId: pay, notifyUrl: merchant.url });
  expect(again).toMatchObject({ cancelOrderId: started.cancelOrderId, created: false });
  expect(again.answer).toMatchObject({ status: 'SUCCEEDED', state: 2 });
}, 60_000);

test('a repair whose notification finds a run of its id already open still applies (that run carries on)', async () => {
  const pay = world.unified.setOrder({ settleAfterMs: 4_000 });
  const cf = createCancelflowClient({
    client: world.temporal.client,
    config: world.config,
    timings: { ...FAST_TIMINGS, deadlineMs: 1_500, unresolvedHoldMs: 10 },
  });
  const started = await cf.startCancellation({ ...UNIFIED_APP, payOrderId: pay, notifyUrl: merchant.url });
  expect(await cf.waitForResult(started.cancelOrderId)).toMatchObject({ status: 'UNRESOLVED' });
  // A run holding the notification's id (as a redelivery in flight would), on a queue nobody polls.
  const holder = await world.temporal.client.workflow.start('heldNotificationId', {
    workflowId: notificationWorkflowId(started.cancelOrderId),
    taskQueue: `${world.config.temporal.taskQueue}-nobody`,
    args: [],
  });
  try {
    const callback = await eventually(
      () =>
        world.database
          .db('provider_callbacks')
          .where({ cancel_order_id: started.cancelOrderId, verdict: 'valid' })
          .first(),
      20_000,
    );
    const repair = world.temporal.client.workflow.getHandle(`repair/${started.cancelOrderId}/${callback.id}`);
    await eventually(() => repair.describe().catch(() => undefined), 20_000);
    const result = await Promise.race([
      repair.result(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('repair did not end within 20 s')), 20_000),
      ),
    ]);
    expect(result).toMatchObject({ applied: true });
    expect(await row(started.cancelOrderId)).toMatchObject({ status: 'SUCCEEDED', state: 2 });
    expect((await holder.describe()).status.name).toBe('RUNNING');
  } finally {
    await holder.terminate('test done');
  }
}, 60_000);

test('callbacks for an account we do not have keep only the first KiB of what was sent', async () => {
  const body = JSON.stringify({ filler: 'x'.repeat(20_000) });
  const res = await fetch(`${world.apiUrl}/callbacks/unified/nobody-${Date.now()}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  expect(res.status).toBe(404);
  const stored = await world.database
    .db('provider_callbacks')
    .where({ verdict: 'unknown-account' })
    .orderBy('id', 'desc')
    .first();
  expect(stored.raw_body).toHaveLength(1024);
  expect(stored.reason).toContain(`body of ${body.length} characters`);
});

test('an unverified callback to an account we have keeps only its first 4 KiB, and says how long it was', async () => {
  const forged = new URLSearchParams({
    cancelOrderId: 'G-FORGED',
    payOrderId: 'P-FORGED',
    state: '2',
    mchNo: GATEWAY.mchNo,
    appId: GATEWAY.appId,
    filler: 'x'.repeat(10_000),
    reqTime: String(Date.now()),
    sign: '0'.repeat(32),
  }).toString();
  for (const [body, type, status] of [
    [forged, 'application/x-www-form-urlencoded', 401],
    [`{"x":${'1'.repeat(10_000)}`, 'application/json', 400],
  ] as const) {
    const res = await fetch(`${world.apiUrl}/callbacks/unified/unified-test`, {
      method: 'POST',
      headers: { 'content-type': type },
      body,
    });
    expect(res.status).toBe(status);
    const stored = await world.database
      .db('provider_callbacks')
      .orderBy('id', 'desc')
      .first('verdict', 'reason', world.database.db.raw('octet_length(raw_body)::int as bytes'));
    expect(stored.verdict).toBe(status === 401 ? 'invalid-signature' : 'malformed');
    expect(stored.bytes).toBeGreaterThan(4_000);
    expect(stored.bytes).toBeLessThanOrEqual(4_096);
    expect(stored.reason).toContain(`body of ${body.length} characters, first 4096 bytes kept`);
  }
});

type NotifiedFields = { cancelOrderId: string; payOrderId: string; state: string };

/** A Cancel Notification signed by the gateway, as the form body it sends. */
function gatewayNotification(fields: NotifiedFields): string {
  const params: Record<string, string> = {
    ...fields,
    mchNo: GATEWAY.mchNo,
    appId: GATEWAY.appId,
    payAmount: '100',
    currency: 'HKD',
    createdAt: String(Date.now()),
    reqTime: String(Date.now()),
  };
  params.sign = md5Sign(params, GATEWAY.key);
  return new URLSearchParams(params).toString();
}

/** A Cancel Notification signed by the gateway, sent to our callback endpoint: HTTP status and body. */
async function gatewayNotifies(fields: NotifiedFields) {
  const res = await fetch(`${world.apiUrl}/callbacks/unified/unified-test`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: gatewayNotification(fields),
  });
  return { status: res.status, text: await res.text() };
}

/** A Unified cancellation PENDING at a silent gateway that knows its cancel id (polled slowly). */
async function pendingAtGateway() {
  const pay = world.unified.setOrder({ pendingQueries: 1_000, silent: true });
  const cf = slowPolling();
  const started = await cf.startCancellation({ ...UNIFIED_APP, payOrderId: pay });
  const pending = await eventually(async () => {
    const r = await row(started.cancelOrderId);
    return r?.status === 'PENDING' && r.provider_cancel_id ? r : undefined;
  });
  return { pay, cf, started, pending };
}

test('a callback about another order of the same gateway changes nothing', async () => {
  const { started, pending } = await pendingAtGateway();
  // Correctly signed by the gateway, names our gateway cancel id, but another payment order.
  const res = await gatewayNotifies({
    cancelOrderId: pending.provider_cancel_id,
    payOrderId: 'P-SOMEONE-ELSE',
    state: '2',
  });
  expect(res.status).toBe(404);
  await new Promise((r) => setTimeout(r, 1_000));
  expect(await row(started.cancelOrderId)).toMatchObject({ status: 'PENDING', state: 1 });
  await world.temporal.client.workflow.getHandle(started.workflowId).terminate('test done');
});

test('another cancel order of our payment order: its success settles ours (the order is cancelled), its failure does not', async () => {
  const { pay, cf, started, pending } = await pendingAtGateway();
  const verifiedBy = async (callbackFrom: number) =>
    eventually(async () => {
      const c = await world.database
        .db('provider_callbacks')
        .where('id', '>', callbackFrom)
        .where({ cancel_order_id: started.cancelOrderId, signalled: true })
        .first('id');
      return c ? true : undefined;
    });
  const lastId = async () =>
    Number((await world.database.db('provider_callbacks').max({ max: 'id' }).first())?.max ?? 0);

  // Signed by the gateway, our payment order, another cancel order, state 3: not ours to decide.
  let from = await lastId();
  expect(await gatewayNotifies({ cancelOrderId: 'C-OTHER-FAILED', payOrderId: pay, state: '3' })).toEqual({
    status: 200,
    text: 'success',
  });
  await verifiedBy(from);
  await new Promise((r) => setTimeout(r, 1_000));
  expect(await row(started.cancelOrderId)).toMatchObject({ status: 'PENDING', state: 1 });

  // The same, state 2: the payment order is cancelled.
  from = await lastId();
  await gatewayNotifies({ cancelOrderId: 'C-OTHER-OK', payOrderId: pay, state: '2' });
  await verifiedBy(from);
  expect(await cf.waitForResult(started.workflowId)).toMatchObject({ status: 'SUCCEEDED', state: 2 });
  expect(pending.provider_cancel_id).not.toBe('C-OTHER-OK');
});

test("a verified callback that reaches a run answering a repeated request (the cancellation's own run closed) is applied by a repair, not dropped", async () => {
  const pay = world.unified.setOrder({ pendingQueries: 1_000, silent: true });
  const cf = createCancelflowClient({
    client: world.temporal.client,
    config: world.config,
    timings: { ...FAST_TIMINGS, deadlineMs: 1_500, unresolvedHoldMs: 10 },
  });
  const started = await cf.startCancellation({ ...UNIFIED_APP, payOrderId: pay, notifyUrl: merchant.url });
  expect(await cf.waitForResult(started.cancelOrderId)).toMatchObject({ status: 'UNRESOLVED', state: 1 });
  const { provider_cancel_id: gatewayCancelId } = await row(started.cancelOrderId);
  expect(gatewayCancelId).toEqual(expect.any(String));
  // The gateway's signed notification, stored and verified by our endpoint...
  const [stored] = await world.database
    .db('provider_callbacks')
    .insert({
      account_id: 'unified-test',
      raw_body: gatewayNotification({ cancelOrderId: gatewayCancelId, payOrderId: pay, state: '2' }),
      content_type: 'application/x-www-form-urlencoded',
      verdict: 'valid',
      cancel_order_id: started.cancelOrderId,
      provider_cancel_id: gatewayCancelId,
      state: 2,
    })
    .returning<Array<{ id: number }>>('id');
  // ...signalled to the open run of the cancellation's id, which is a repeat of the merchant's
  // request (the signal delivered with its start, so it is there before that run answers).
  const history = await world.temporal.client.workflow.getHandle(started.workflowId).fetchHistory();
  const [input] = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads!.map((p) =>
    defaultPayloadConverter.fromPayload(p),
  );
  const repeat = await world.temporal.client.workflow.signalWithStart('cancellationWorkflow', {
    workflowId: started.workflowId,
    taskQueue: world.config.temporal.taskQueue,
    args: [input],
    signal: providerOutcomeSignal,
    signalArgs: [{ source: 'callback', reference: String(stored!.id) }],
  });
  expect(await repeat.result()).toMatchObject({ cancelOrderId: started.cancelOrderId, status: 'UNRESOLVED' });
  const repair = world.temporal.client.workflow.getHandle(
    repairWorkflowId(started.cancelOrderId, String(stored!.id)),
  );
  expect(await eventually(() => repair.result().catch(() => undefined), 20_000)).toMatchObject({
    applied: true,
  });
  expect(await row(started.cancelOrderId)).toMatchObject({ status: 'SUCCEEDED', state: 2 });
  const told = await eventually(async () =>
    merchant.received.find((r) => r.params.cancelOrderId === started.cancelOrderId),
  );
  expect(told.params.state).toBe('2');
}, 60_000);

test('a verified callback about a final cancellation is stored and answered, and starts nothing: no signal, no repair run', async () => {
  // Settled at once; the gateway sends nothing itself: the test sends its notifications, late.
  const pay = world.unified.setOrder({ silent: true });
  const started = await world.cancelflow.startCancellation({ ...UNIFIED_APP, payOrderId: pay });
  expect(await world.cancelflow.waitForResult(started.workflowId)).toMatchObject({
    status: 'SUCCEEDED',
    state: 2,
  });
  const final = await row(started.cancelOrderId);
  const notify = (state: string) =>
    gatewayNotifies({ cancelOrderId: final.provider_cancel_id, payOrderId: pay, state });
  // The same final state, then another one (a gateway contradicting a final record).
  expect(await notify('2')).toEqual({ status: 200, text: 'success' });
  expect(await notify('3')).toEqual({ status: 200, text: 'success' });

  const callbacks = await world.database
    .db('provider_callbacks')
    .where({ cancel_order_id: started.cancelOrderId })
    .orderBy('id');
  expect(callbacks.map((c) => [c.verdict, c.state, c.signalled, c.reason])).toEqual([
    ['valid', 2, false, 'about a final record (state 2, notified 2): nothing changed, nothing started'],
    [
      'valid',
      3,
      false,
      'disagrees with a final record (state 2, notified 3): nothing changed, nothing started',
    ],
  ]);
  // Nothing was started or signalled, and the record is as it was.
  for (const c of callbacks)
    await expect(
      world.temporal.client.workflow
        .getHandle(repairWorkflowId(started.cancelOrderId, String(c.id)))
        .describe(),
    ).rejects.toBeInstanceOf(WorkflowNotFoundError);
  const history = await world.temporal.client.workflow.getHandle(started.workflowId).fetchHistory();
  expect(history.events?.filter((e) => e.workflowExecutionSignaledEventAttributes)).toEqual([]);
  const after = await row(started.cancelOrderId);
  expect(after).toMatchObject({ status: 'SUCCEEDED', state: 2, updated_at: final.updated_at });
});

test('the repair runs of this suite replay with the current workflow code', async () => {
  const { histories, failures } = await replayCompletedRuns(world, 'repairWorkflow');
  expect(histories.length).toBeGreaterThanOrEqual(1);
  expect(failures).toEqual([]);
  // RECORD_HISTORIES=1 npm test -- callbacks: refresh the committed fixture (test/replay).
  recordFixtures(histories.slice(0, 1).map((h) => ({ ...h, workflowId: 'repair/1' })));
});
