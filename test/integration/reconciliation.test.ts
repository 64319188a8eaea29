import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { completeRecord } from '../../activities/callbacks';
import { createLogger } from '../../common/logger';
import { createCancelflowClient } from '../../client';
import { recordFixtures, replayCompletedRuns } from '../helpers/replay';
import { ensureReconciliationSchedule } from '../../client/schedules';
import { createAdapter } from '../../providers';
import type { reconciliationWorkflow } from '../../workflows/reconciliation';
import type { ReconciliationResult } from '../../contract/reconciliation';
import { CancelOrderId, CancelState } from '../../workflows/search-attributes';
import {
  createWorld,
  eventually,
  FAST_TIMINGS,
  PAYBY_APP,
  startReceiver,
  type Receiver,
  type World,
} from '../helpers/world';

let world: World;
let merchant: Receiver;
let scheduleId: string;

beforeAll(async () => {
  [world, merchant] = await Promise.all([
    // A stopped worker cancels its running pages after 200 ms, so a page really is cut short.
    createWorld({ rateLimitPerSecond: 500, reconcileShutdownGraceMs: 200 }),
    startReceiver(() => 'success'),
  ]);
});
afterAll(async () => {
  if (scheduleId)
    await world.temporal.client.schedule
      .getHandle(scheduleId)
      .delete()
      .catch(() => undefined);
  await merchant?.close();
  await world?.close();
});

let seq = 0;
function cancelOrderId(): string {
  return `C20261121000000000${String(++seq).padStart(4, '0')}`;
}

interface Seed {
  account?: 'payby-test' | 'unified-test';
  mchOrderNo?: string;
  payOrderId?: string;
  status: string;
  state: number;
  errCode?: string;
  providerCancelId?: string;
  at?: Date;
  notifyUrl?: string;
}

/** A cancellation row as a finished (or abandoned) workflow would have left it. */
async function seed(s: Seed): Promise<string> {
  const id = cancelOrderId();
  const account = s.account ?? 'payby-test';
  const ref = s.payOrderId ? `pay:${s.payOrderId}` : `mch:${s.mchOrderNo}`;
  const at = s.at ?? new Date();
  await world.database.db('cancellations').insert({
    cancel_order_id: id,
    workflow_id: `cancel/${account}/${ref}`,
    mch_no: PAYBY_APP.mchNo,
    app_id: account === 'payby-test' ? PAYBY_APP.appId : 'unified-app',
    account_id: account,
    provider: account === 'payby-test' ? 'payby' : 'unified',
    order_ref: ref,
    pay_order_id: s.payOrderId ?? null,
    mch_order_no: s.mchOrderNo ?? null,
    notify_url: s.notifyUrl ?? null,
    status: s.status,
    state: s.state,
    err_code: s.errCode ?? null,
    provider_cancel_id: s.providerCancelId ?? null,
    created_at: at,
    updated_at: at,
  });
  return id;
}

/** `n` cancellations we recorded as cancelled at `at`, each with its PayBy order in `status(i)`. */
async function seedCancelled(
  prefix: string,
  n: number,
  at: Date,
  status: (i: number) => 'FAILURE' | 'PAID_SUCCESS',
): Promise<string[]> {
  const rows = Array.from({ length: n }, (_, i) => {
    const order = `${prefix}-${i}`;
    world.payby.setOrder(order, { status: status(i) });
    return {
      cancel_order_id: cancelOrderId(),
      workflow_id: `cancel/payby-test/mch:${order}`,
      mch_no: PAYBY_APP.mchNo,
      app_id: PAYBY_APP.appId,
      account_id: 'payby-test',
      provider: 'payby',
      order_ref: `mch:${order}`,
      mch_order_no: order,
      status: 'SUCCEEDED',
      state: 2,
      created_at: at,
      updated_at: at,
    };
  });
  await world.database.db.batchInsert('cancellations', rows, 1_000);
  return rows.map((r) => r.cancel_order_id);
}

const row = (id: string) => world.database.db('cancellations').where({ cancel_order_id: id }).first();

/** The item a page writes for a PENDING record the provider shows cancelled: REPAIRED, repair not made. */
const repairedItem = (runId: string, id: string) =>
  world.database.db('reconciliation_items').insert({
    run_id: runId,
    cancel_order_id: id,
    class: 'REPAIRED',
    our_state: 1,
    provider_state: 2,
    detail: JSON.stringify({ ourStatus: 'PENDING', outcome: { kind: 'cancelled' } }),
    repaired: false,
  });

test('a page attempt that finds its item written meanwhile by an overlapping attempt still makes the repair', async () => {
  // Ours PENDING, PayBy's order FAILURE (cancelled): REPAIRED. PayBy answers 500 twice first, so
  // the check is in flight (retrying) while the other attempt writes the item.
  const order = `REC-OVERLAP-${Date.now()}`;
  world.payby.setOrder(order, { status: 'FAILURE', faults: ['http500', 'http500'] });
  // Long ago: outside the window of every reconciliation run of this suite (made final below).
  const id = await seed({ mchOrderNo: order, status: 'PENDING', state: 1, at: new Date('2020-01-01') });
  const runId = `overlap-${Date.now()}`;
  const now = new Date();
  await world.database.db('reconciliation_runs').insert({ run_id: runId, window_from: now, window_to: now });
  const activities = createActivities({
    db: world.database.db,
    config: world.config,
    logger: createLogger('silent'),
  });
  const page = new MockActivityEnvironment().run(activities.reconcilePage, {
    runId,
    accountId: 'payby-test',
    cancelOrderIds: [id],
    dryRun: false,
    staleAfterHours: 24,
    concurrency: 1,
  });
  await eventually(async () => (world.payby.order(order)!.requests >= 1 ? true : undefined));
  await repairedItem(runId, id);
  const result = (await page) as { REPAIRED: number; repairs?: unknown[] };
  expect(result.REPAIRED).toBe(1);
  expect(result.repairs).toEqual([{ cancelOrderId: id, workflowId: `cancel/payby-test/mch:${order}` }]);
  // The repair is the workflow's to make; here the row is put out of every later run's scope.
  await world.database
    .db('cancellations')
    .where({ cancel_order_id: id })
    .update({ status: 'SUCCEEDED', state: 2 });
});
test('a refusal of the cancel order we know repairs nothing after a lost cancel, for the page and for a late repair', async () => {
  // The gateway refuses cancel order C (the order was paid). Row `known` has no lost cancel: its
  // refusal repairs it. Row `lost` sent a cancel whose answer never came, and row `retried` retries
  // an UNRESOLVED one that did: the order may be cancelled under a cancel order we never learnt.
  const pay = world.unified.setOrder({ result: 'paid', silent: true });
  const unified = world.config.accounts.find((a) => a.id === 'unified-test')!;
  const gw = await createAdapter(unified).submitCancel({ order: { payOrderId: pay } });
  expect(gw.outcome).toMatchObject({ kind: 'refused', state: 3 });
  const providerCancelId = (gw.outcome as { providerCancelId: string }).providerCancelId;
  // Long ago: outside the window of every reconciliation run of this suite (made final below).
  const at = new Date('2020-01-01');
  const open = { account: 'unified-test', payOrderId: pay, providerCancelId, at } as const;
  const known = await seed({ ...open, status: 'UNRESOLVED', state: 1 });
  const lost = await seed({ ...open, status: 'UNRESOLVED', state: 1 });
  const earlier = await seed({ ...open, status: 'UNRESOLVED', state: 1 });
  const retried = await seed({ ...open, status: 'PENDING', state: 1 });
  const db = world.database.db;
  await db('cancellations').where({ cancel_order_id: earlier }).update({ retired_at: at });
  await db('cancellations').where({ cancel_order_id: retried }).update({ retry_of: earlier });
  const call = (id: string, outcome: string) => ({
    exchange_key: `lost-cancel/${id}`,
    cancel_order_id: id,
    account_id: 'unified-test',
    provider: 'unified',
    operation: 'cancel',
    url: 'http://127.0.0.1:1/api/pay/cancel',
    request: JSON.stringify({ payOrderId: pay }),
    signature: 'not-checked',
    outcome,
    latency_ms: 0,
  });
  await db('provider_calls').insert([call(lost, 'unknown'), call(earlier, 'sent')]);
  const runId = `lost-cancel-${Date.now()}`;
  await db('reconciliation_runs').insert({ run_id: runId, window_from: at, window_to: at });
  const activities = createActivities({ db, config: world.config, logger: createLogger('silent') });
  const result = await new MockActivityEnvironment().run(activities.reconcilePage, {
    runId,
    accountId: 'unified-test',
    cancelOrderIds: [known, lost, retried],
    dryRun: false,
    staleAfterHours: 24,
    concurrency: 1,
  });
  // (toMatchObject: the repairs array matches in length too.)
  expect(result).toMatchObject({
    REPAIRED: 1,
    STILL_PENDING: 2,
    repairs: [{ cancelOrderId: known, workflowId: expect.any(String) }],
  });
  const itemOf = (id: string) =>
    db('reconciliation_items').where({ run_id: runId, cancel_order_id: id }).first();
  expect(await itemOf(lost)).toMatchObject({ class: 'STILL_PENDING', provider_state: 3, repaired: false });
  expect((await itemOf(lost)).detail.reason).toContain(
    `the answer to an earlier cancel (lost-cancel/${lost}) was lost`,
  );
  expect((await itemOf(retried)).detail.reason).toContain(`(lost-cancel/${earlier}) was lost`);

  // A late repair (a verified callback, or an item an older build classified REPAIRED) writes
  // nothing from a refusal either; a success still completes the record.
  const refusal = { kind: 'refused', state: 3, code: 'PAID', message: 'order paid' } as const;
  expect(await completeRecord(db, lost, refusal, 'late refusal')).toMatchObject({ written: 'undecided' });
  expect(await completeRecord(db, retried, refusal, 'late refusal')).toMatchObject({ written: 'undecided' });
  expect(await row(lost)).toMatchObject({ status: 'UNRESOLVED', state: 1 });
  expect(await completeRecord(db, known, refusal, 'late refusal')).toMatchObject({ written: 'applied' });
  expect(await completeRecord(db, lost, { kind: 'cancelled' }, 'late success')).toMatchObject({
    written: 'applied',
  });
  expect(await row(lost)).toMatchObject({ status: 'SUCCEEDED', state: 2 });
  // Out of every later run's scope: terminal, and updated long ago.
  await db('cancellations').where({ cancel_order_id: retried }).update({ status: 'FAILED', state: 3 });
  await db('cancellations').whereIn('cancel_order_id', [known, lost, retried]).update({ updated_at: at });
});
test('a repair retried after it committed (its activity died before answering) still starts the run that shows it and the notification', async () => {
  // Long ago, and updated long ago below: outside the scope of every reconciliation run of this suite.
  const at = new Date('2020-01-01');
  const order = `REC-RETRIED-${Date.now()}`;
  const id = await seed({ mchOrderNo: order, status: 'PENDING', state: 1, notifyUrl: merchant.url, at });
  const db = world.database.db;
  const activities = createActivities({ db, config: world.config, logger: createLogger('silent') });
  const repairIn = async (runId: string) => {
    await db('reconciliation_runs').insert({ run_id: runId, window_from: at, window_to: at });
    await repairedItem(runId, id);
  };
  const runId = `retried-repair-${Date.now()}`;
  await repairIn(runId);
  const first = await activities.completeReconciliationRepair({ runId, cancelOrderId: id });
  // The same activity again: its first attempt committed, and the worker died before it answered.
  const again = await activities.completeReconciliationRepair({ runId, cancelOrderId: id });
  const due = {
    how: 'completed',
    recordRun: { workflowId: `cancel/payby-test/mch:${order}` },
    notify: {},
  };
  expect(first).toMatchObject(due);
  expect(again).toMatchObject(due);
  expect(await row(id)).toMatchObject({ status: 'SUCCEEDED', state: 2 });
  const written = await db('cancellation_transitions').where({
    cancel_order_id: id,
    reason: `repaired by reconciliation ${runId}`,
  });
  expect(written).toHaveLength(1);
  // Once the notification was begun (the attempt answered and the run started it, then the
  // workflow was reset and made the repair again), a third call starts no second notification.
  await db('notifications').insert({
    notification_id: `N-${id}`,
    cancel_order_id: id,
    app_id: PAYBY_APP.appId,
    url: merchant.url,
    payload: JSON.stringify({ cancelOrderId: id }),
  });
  const reset = await activities.completeReconciliationRepair({ runId, cancelOrderId: id });
  expect(reset).toMatchObject({ how: 'completed', recordRun: due.recordRun });
  expect(reset).not.toHaveProperty('notify');
  // Another run's repair of the record, final now, is not this one: nothing follows it.
  await repairIn(`${runId}-other`);
  expect(
    await activities.completeReconciliationRepair({ runId: `${runId}-other`, cancelOrderId: id }),
  ).toEqual({ how: 'already terminal' });
  await db('cancellations').where({ cancel_order_id: id }).update({ updated_at: at });
});
const items = (runId: string) =>
  world.database
    .db('reconciliation_items')
    .where({ run_id: runId })
    .select('cancel_order_id', 'class', 'repaired');

/** `trigger()` the schedule and wait for the run it starts. */
async function triggerAndWait(id: string): Promise<ReconciliationResult> {
  const handle = world.temporal.client.schedule.getHandle(id);
  const recent = async () =>
    (await handle.describe()).info.recentActions.map((a) => a.action.workflow.workflowId);
  const before = new Set(await recent());
  await handle.trigger();
  const workflowId = await eventually(async () => (await recent()).find((w) => !before.has(w)));
  return world.temporal.client.workflow.getHandle<typeof reconciliationWorkflow>(workflowId).result();
}

describe('nightly reconciliation', () => {
  test('the schedule is created idempotently and updated from config: overlap skip, catch-up window', async () => {
    const options = {
      taskQueue: world.temporal.taskQueue,
      cron: '30 2 * * *',
      timeZone: 'Asia/Dubai',
      staleAfterHours: 24,
    };
    scheduleId = await ensureReconciliationSchedule(world.temporal.client, {
      ...options,
      scheduleId: `nightly-reconciliation-${world.temporal.taskQueue}`,
    });
    await ensureReconciliationSchedule(world.temporal.client, { ...options, cron: '0 3 * * *', scheduleId });
    const d = await world.temporal.client.schedule.getHandle(scheduleId).describe();
    expect(d.spec.timezone).toBe('Asia/Dubai');
    expect(d.spec.calendars?.[0]).toMatchObject({ hour: [{ start: 3, end: 3, step: 1 }] });
    expect(d.policies.overlap).toBe('SKIP');
    expect(d.policies.catchupWindow).toBe(86_400_000);
    expect(d.action).toMatchObject({ type: 'startWorkflow', workflowType: 'reconciliationWorkflow' });
  });

  test('every discrepancy class, repairs, MISMATCHED untouched, and a second run is a no-op for the repairs', async () => {
    const old = new Date(Date.now() - 48 * 3_600_000);
    // MATCHED: both say cancelled.
    world.payby.setOrder('RC-match', { status: 'FAILURE' });
    const matched = await seed({ mchOrderNo: 'RC-match', status: 'SUCCEEDED', state: 2 });
    // REPAIRED, workflow gone: our record stuck in PENDING, the provider cancelled it.
    world.payby.setOrder('RC-gone', { status: 'FAILURE', amount: 21.74 });
    const gone = await seed({ mchOrderNo: 'RC-gone', status: 'PENDING', state: 1, notifyUrl: merchant.url });
    // REPAIRED, workflow alive: UNRESOLVED because answers did not verify; now they do.
    world.payby.setOrder('RC-live', { status: 'CREATED', badSignature: true });
    const client = createCancelflowClient({
      client: world.temporal.client,
      config: world.config,
      timings: { ...FAST_TIMINGS, deadlineMs: 300, unresolvedHoldMs: 10 * 60_000 },
    });
    const live = await client.startCancellation({
      ...PAYBY_APP,
      mchOrderNo: 'RC-live',
      notifyUrl: merchant.url,
    });
    await eventually(async () => (await row(live.cancelOrderId))?.status === 'UNRESOLVED');
    world.payby.order('RC-live')!.badSignature = false;
    // MISMATCHED: we say the cancel failed (paid), the provider says cancelled.
    world.payby.setOrder('RC-mismatch', { status: 'FAILURE' });
    const mismatched = await seed({
      mchOrderNo: 'RC-mismatch',
      status: 'FAILED',
      state: 3,
      errCode: 'ORDER_PAID',
    });
    // MISSING_AT_PROVIDER: the provider does not know the order.
    const missing = await seed({ mchOrderNo: 'RC-missing', status: 'SUCCEEDED', state: 2 });
    // STILL_PENDING: in progress at the gateway too, past the SLA.
    const pay = world.unified.setOrder({ pendingQueries: 1_000_000, silent: true });
    const gw = await createAdapter(world.config.accounts.find((a) => a.id === 'unified-test')!).submitCancel({
      order: { payOrderId: pay },
    });
    const stale = await seed({
      account: 'unified-test',
      payOrderId: pay,
      status: 'PENDING',
      state: 1,
      providerCancelId: gw.outcome.kind === 'pending' ? gw.outcome.providerCancelId! : 'x',
      at: old,
    });
    // ERROR: the provider keeps failing.
    world.payby.setOrder('RC-error', { status: 'CREATED', faults: Array(20).fill('http500') });
    const error = await seed({ mchOrderNo: 'RC-error', status: 'PENDING', state: 1 });
    // Out of scope: terminal and outside the window.
    const outside = await seed({ mchOrderNo: 'RC-outside', status: 'SUCCEEDED', state: 2, at: old });
    const mismatchedBefore = await row(mismatched);

    const first = await triggerAndWait(scheduleId);
    const byId = Object.fromEntries((await items(first.runId)).map((i) => [i.cancel_order_id, i]));
    expect(byId[matched]).toMatchObject({ class: 'MATCHED' });
    expect(byId[gone]).toMatchObject({ class: 'REPAIRED', repaired: true });
    expect(byId[live.cancelOrderId]).toMatchObject({ class: 'REPAIRED', repaired: true });
    expect(byId[mismatched]).toMatchObject({ class: 'MISMATCHED', repaired: false });
    expect(byId[missing]).toMatchObject({ class: 'MISSING_AT_PROVIDER' });
    expect(byId[stale]).toMatchObject({ class: 'STILL_PENDING' });
    expect(byId[error]).toMatchObject({ class: 'ERROR' });
    expect(byId[outside]).toBeUndefined();
    expect(first.counts).toEqual({
      MATCHED: 1,
      REPAIRED: 2,
      MISMATCHED: 1,
      MISSING_AT_PROVIDER: 1,
      STILL_PENDING: 1,
      ERROR: 1,
    });
    expect(
      await world.database.db('reconciliation_runs').where({ run_id: first.runId }).first(),
    ).toMatchObject({
      status: 'finished',
      counts: first.counts,
    });

    // Repairs: the stuck record completed through the same transition write, and its notification went out;
    // the live workflow was signalled and finished itself.
    expect(await row(gone)).toMatchObject({ status: 'SUCCEEDED', state: 2, amount_minor: 2174 });
    // Temporal shows the repair: a new run of the cancellation's workflow id reads the completed
    // record and carries its state (a closed run's search attributes cannot change).
    const shown = await eventually(async () => {
      const d = await world.temporal.client.workflow
        .getHandle('cancel/payby-test/mch:RC-gone')
        .describe()
        .catch(() => undefined);
      return d?.status.name === 'COMPLETED' ? d : undefined;
    });
    expect(shown.typedSearchAttributes.get(CancelState)).toBe('SUCCEEDED');
    expect(shown.typedSearchAttributes.get(CancelOrderId)).toBe(gone);
    await eventually(async () => merchant.received.some((r) => r.params.cancelOrderId === gone));
    expect((await client.waitForResult(live.workflowId)).status).toBe('SUCCEEDED');
    await eventually(async () =>
      merchant.received.some((r) => r.params.cancelOrderId === live.cancelOrderId),
    );
    // MISMATCHED is flagged, never changed.
    expect(await row(mismatched)).toEqual(mismatchedBefore);

    const second = await triggerAndWait(scheduleId);
    expect(second.runId).not.toBe(first.runId);
    expect(second.counts).toMatchObject({
      REPAIRED: 0,
      MATCHED: 3,
      MISMATCHED: 1,
      MISSING_AT_PROVIDER: 1,
      STILL_PENDING: 1,
      ERROR: 1,
    });
    expect(merchant.received.filter((r) => r.params.cancelOrderId === gone)).toHaveLength(1);
    // Its calendar (03:00 Dubai = 23:00 UTC) would start a run of its own during the later tests
    // when the suite runs at that hour (it did: 8 more PayBy answers than the 10,000-row test's).
    await world.temporal.client.schedule.getHandle(scheduleId).delete();
  });

  test('a worker stopped mid-page: the cut page is retried and resumes, nothing recorded twice', async () => {
    const at = new Date(Date.now() - 10 * 24 * 3_600_000);
    const ids = await seedCancelled('RK', 1_500, at, () => 'FAILURE');
    const handle = await world.temporal.client.workflow.start<typeof reconciliationWorkflow>(
      'reconciliationWorkflow',
      {
        workflowId: `reconcile/kill-${world.temporal.taskQueue}`,
        taskQueue: world.temporal.taskQueue,
        args: [
          {
            from: at.getTime() - 1,
            to: at.getTime() + 1,
            accountId: 'payby-test',
            pageSize: 300,
            pagesPerRun: 2,
          },
        ],
      },
    );
    // Stop while a page is half done: some of its items written, not all.
    await eventually(async () => {
      const n = Number(
        (await world.database
          .db('reconciliation_items')
          .whereIn('cancel_order_id', ids)
          .count({ n: '*' })
          .first())!.n,
      );
      return n >= 450 && n % 300 !== 0;
    });
    await world.stopWorker();
    const atStop = Number(
      (await world.database
        .db('reconciliation_items')
        .whereIn('cancel_order_id', ids)
        .count({ n: '*' })
        .first())!.n,
    );
    expect(atStop).toBeLessThan(1_500);
    await new Promise((r) => setTimeout(r, 500));
    await world.startWorker();
    // Checks the stopped worker had taken are retried once their start-to-close timeout expires.
    const result = await handle.result();
    expect(result.counts).toEqual({
      MATCHED: 1_500,
      REPAIRED: 0,
      MISMATCHED: 0,
      MISSING_AT_PROVIDER: 0,
      STILL_PENDING: 0,
      ERROR: 0,
    });
    expect(await items(result.runId)).toHaveLength(1_500);
    // Rows recorded before the stop were not asked again: at most the requests in flight when the
    // pages were cut were repeated (4 pages at a time, ceil(50 / 4) = 13 lanes each).
    const asked = Number(
      (await world.database.db('provider_calls').whereIn('cancel_order_id', ids).count({ n: '*' }).first())!
        .n,
    );
    expect(asked).toBeGreaterThanOrEqual(1_500);
    expect(asked).toBeLessThanOrEqual(1_500 + 4 * 13);
  }, 300_000);

  test("10,000 cancellations in one run: paged, paced under the provider's own limit, continue-as-new", async () => {
    const at = new Date(Date.now() - 20 * 24 * 3_600_000);
    // Every 10th order was paid at the provider while we recorded a cancel.
    await seedCancelled('RB', 10_000, at, (i) => (i % 10 === 0 ? 'PAID_SUCCESS' : 'FAILURE'));
    // PayBy enforces the same 500/s the account is configured with: our pacing must stay under it.
    world.payby.setRateLimit(500);
    const before = { ...world.payby.stats };
    const handle = await world.temporal.client.workflow.start<typeof reconciliationWorkflow>(
      'reconciliationWorkflow',
      {
        workflowId: `reconcile/10k-${world.temporal.taskQueue}`,
        taskQueue: world.temporal.taskQueue,
        args: [
          {
            from: at.getTime() - 1,
            to: at.getTime() + 1,
            accountId: 'payby-test',
            pageSize: 1_000,
            concurrency: 100,
            pagesPerRun: 3,
            dryRun: true,
          },
        ],
      },
    );
    const result = await handle.result();
    // Every 10th order was paid at the provider while we recorded a cancel: flagged, not changed.
    expect(result.counts).toEqual({
      MATCHED: 9_000,
      REPAIRED: 0,
      MISMATCHED: 1_000,
      MISSING_AT_PROVIDER: 0,
      STILL_PENDING: 0,
      ERROR: 0,
    });
    expect(result.total).toBe(10_000);
    world.payby.setRateLimit(undefined);
    expect(world.payby.stats.rateLimited - before.rateLimited).toBe(0);
    expect(world.payby.stats.answered - before.answered).toBe(10_000);
    const slots = await world.database
      .db('provider_rate_slots')
      .where({ account_id: 'payby-test' })
      .max({ most: 'used' })
      .first();
    expect(Number(slots?.most)).toBeLessThanOrEqual(50);
    const first = await world.temporal.client.workflow
      .getHandle(handle.workflowId, handle.firstExecutionRunId)
      .describe();
    expect(first.status.name).toBe('CONTINUED_AS_NEW');
    expect(first.historyLength).toBeLessThan(12_000);
  }, 600_000);
});

describe('replay', () => {
  test('every completed reconciliation run of this suite replays with the current workflow code', async () => {
    const { histories, failures } = await replayCompletedRuns(world, 'reconciliationWorkflow');
    // The schedule's runs, the worker-stop run and the 10,000-row run (its last, continued run).
    expect(histories.length).toBeGreaterThanOrEqual(4);
    expect(failures).toEqual([]);
    // RECORD_HISTORIES=1 npm test -- reconciliation: refresh the committed fixtures (test/replay).
    const small = histories.filter((h) => (h.history.events?.length ?? 0) < 400).slice(0, 3);
    recordFixtures(small.map((h, i) => ({ ...h, workflowId: `reconcile/${i + 1}` })));
  });
});
