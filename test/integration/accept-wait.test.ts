import { temporal as proto } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { completeRecord } from '../../activities/callbacks';
import { cancellationWorkflowId, orderRefOf } from '../../contract/ids';
import { createWorld, eventually, PAYBY_APP, startReceiver, UNIFIED_APP, type World } from '../helpers/world';

/**
 * The merchant's wait running out while the run's first local activity is held. A chaos run found
 * a run stuck for good on this with the old shape: the `accept` update's own timer fired, the
 * handler answered while `recordCancellation` (a local activity) was still in flight, and the local
 * activity's result and the timer came back in one activation on replay, in the other order
 * (RELIABILITY.md, docs/incidents/2026-11-30-update-timer-vs-local-activity.binpb). Runs of the
 * lean shape have no timer in the update: the caller's deadline bounds its wait and the run's
 * commands never depend on when the caller gave up. Older runs replay from the committed fixtures.
 */

jest.setTimeout(120_000);

const EventType = proto.api.enums.v1.EventType;

let world: World;
beforeAll(async () => {
  world = await createWorld();
});
afterAll(async () => {
  await world?.close();
});

/** Resolves once a query matching `pattern` (ILIKE) waits for a lock: the run is held there. */
async function runWaitsForLock(pattern: string): Promise<void> {
  await eventually(async () => {
    const { rows } = await world.database.db.raw<{ rows: Array<{ n: number }> }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE ?`,
      [pattern],
    );
    return rows[0]!.n > 0;
  }, 60_000);
}

test('the merchant wait runs out while recordCancellation is held: no timer, a clear "ask again", the same cancellation after, and the history replays', async () => {
  const payOrderId = world.unified.setOrder({});
  const workflowId = cancellationWorkflowId(
    'unified-test',
    { mchNo: UNIFIED_APP.mchNo, appId: UNIFIED_APP.appId },
    orderRefOf({ payOrderId }),
  );
  // The run's first step (recordCancellation, a local activity) reads cancellation_refs FOR UPDATE:
  // it waits for this lock. The worker keeps the workflow task alive meanwhile (reporting it every
  // ~8 s): the merchant's 300 ms are long gone before the record can be written.
  const locker = await world.database.db.transaction();
  let released = false;
  const release = async () => {
    if (!released) await locker.commit();
    released = true;
  };
  try {
    await locker.raw('LOCK TABLE cancellation_refs IN ACCESS EXCLUSIVE MODE');
    const answer = await world.cancelflow
      .startCancellation({ ...UNIFIED_APP, payOrderId }, { waitMs: 300 })
      .then(
        (a) => ({ ok: a }),
        (error: unknown) => ({ error }),
      );
    // Not recorded: the merchant is told to ask again, never given an id that does not exist.
    expect(answer).toMatchObject({ error: { code: expect.stringMatching(/^NOT_(RECORDED|ANSWERED)$/) } });
    // The caller's wait ended at its own deadline, not when the record came (the lock still holds).
    expect(released).toBe(false);
    await eventually(async () =>
      (await world.temporal.client.workflow.getHandle(workflowId).fetchHistory()).events?.some(
        (e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
      ),
    );
    await release();

    const result = await world.cancelflow.waitForResult(workflowId);
    expect(result.status).toBe('SUCCEEDED');
    // Asked again: the same cancellation, answered from its run.
    const again = await world.cancelflow.startCancellation({ ...UNIFIED_APP, payOrderId });
    expect(again.cancelOrderId).toBe(result.cancelOrderId);
    expect(again.created).toBe(false);

    const history = await world.temporal.client.workflow.getHandle(workflowId).fetchHistory();
    const types = (history.events ?? []).map((e) => e.eventType);
    // The update waits on the run's state only: no timer anywhere in a happy-path run.
    expect(types).not.toContain(EventType.EVENT_TYPE_TIMER_STARTED);
    expect(types).toContain(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED);

    // A full replay with today's bundle gives the same commands.
    const replayed = await Worker.runReplayHistory(
      { workflowBundle: world.temporal.workflowBundle },
      history,
      workflowId,
    ).then(
      () => 'ok',
      (err: unknown) => String(err),
    );
    expect(replayed).toBe('ok');
  } finally {
    await release();
  }
});

test('the provider slower than the merchant wait: answered in progress (state 1) with the recorded id, from the run, then finished', async () => {
  const mchOrderNo = `AW-slow-${Date.now()}`;
  // PayBy holds its answer to the first request past our HTTP timeout: the run's submit is out.
  world.payby.setOrder(mchOrderNo, { status: 'CREATED', faults: ['timeout'] });
  const started = await world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo }, { waitMs: 300 });
  // The run has no timer for this wait (lean shape): the client asked where it stands.
  expect(started.answer).toMatchObject({ status: 'SUBMITTED', state: 1, submits: 1 });
  expect(started.cancelOrderId).toMatch(/^C\d{21}$/);
  // This request created it, even though the answer came from the query.
  expect(started.created).toBe(true);
  const events = (await world.temporal.client.workflow.getHandle(started.workflowId).fetchHistory()).events!;
  expect(events.some((e) => e.eventType === EventType.EVENT_TYPE_TIMER_STARTED)).toBe(false);
  // Asked with the `status` update (ordered in the history), never a query: a query answered while
  // a local activity has just finished can leave a history that does not replay (RELIABILITY.md).
  const updates = events
    .filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
    .map((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name);
  expect(updates).toEqual(['accept', 'status']);
  const result = await world.cancelflow.waitForResult(started.workflowId);
  expect(result.cancelOrderId).toBe(started.cancelOrderId);
  expect(result.status).toBe('SUCCEEDED');
  // A repeat now gets the same cancellation, final.
  const again = await world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo });
  expect(again).toMatchObject({ cancelOrderId: started.cancelOrderId, created: false, answer: { state: 2 } });
});

test('the final write held: a repeat (and ops) are told what Postgres holds, never a final state before it is written', async () => {
  const mchOrderNo = `AW-held-${Date.now()}`;
  // PayBy holds its answer to the first request: the merchant is answered in progress, with the id.
  world.payby.setOrder(mchOrderNo, { status: 'CREATED', faults: ['timeout'] });
  const started = await world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo }, { waitMs: 300 });
  expect(started.answer).toMatchObject({ status: 'SUBMITTED', state: 1 });
  const { cancelOrderId } = started;
  const rowOf = () =>
    world.database
      .db('cancellations')
      .where({ cancel_order_id: cancelOrderId })
      .first<{ status: string; state: number }>('status', 'state');

  // The row is held: the run's final write (which reads it FOR UPDATE) waits for this lock. NO KEY:
  // the audit rows of its exchanges (a foreign key to this row) are still written, as they must be.
  const locker = await world.database.db.transaction();
  try {
    await locker.raw('SELECT status FROM cancellations WHERE cancel_order_id = ? FOR NO KEY UPDATE', [
      cancelOrderId,
    ]);
    await runWaitsForLock('%cancellations%for update%');
    // The run has its final answer in hand and is writing it: nothing is committed yet.
    expect(await rowOf()).toMatchObject({ status: 'SUBMITTED', state: 1 });

    // The merchant asks again: the run does not answer within the wait, and the client's `status`
    // update waits for the run's task, held by the write (a query would be answered now, and a
    // query answered while a local activity finishes can break the history: RELIABILITY.md). It is
    // told the cancellation goes on, never a state: the API then answers from Postgres.
    const repeat = await world.cancelflow
      .startCancellation({ ...PAYBY_APP, mchOrderNo }, { waitMs: 300, deadlineMs: 2_000 })
      .then(
        (a) => ({ ok: a }),
        (error: unknown) => ({ error }),
      );
    expect(repeat).toMatchObject({ error: { code: 'NOT_ANSWERED' } });
    // Ops see the same.
    expect(await world.cancelflow.getCancellation(cancelOrderId)).toMatchObject({
      status: 'SUBMITTED',
      state: 1,
    });
    expect(await rowOf()).toMatchObject({ status: 'SUBMITTED', state: 1 });
  } finally {
    await locker.commit();
  }

  const result = await world.cancelflow.waitForResult(started.workflowId);
  expect(result).toMatchObject({ cancelOrderId, status: 'SUCCEEDED', state: 2 });
  expect(await rowOf()).toMatchObject({ status: 'SUCCEEDED', state: 2 });
  const again = await world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo });
  expect(again).toMatchObject({ cancelOrderId, created: false, answer: { status: 'SUCCEEDED', state: 2 } });
});

test('another final state written while the run writes its own (a repair first): the run and its merchant take what Postgres holds, and the run notifies nobody (the repair does)', async () => {
  const mchOrderNo = `AW-repaired-${Date.now()}`;
  world.payby.setOrder(mchOrderNo, { status: 'CREATED', faults: ['timeout'] });
  const merchant = await startReceiver(() => 'success');
  const started = await world.cancelflow.startCancellation(
    { ...PAYBY_APP, mchOrderNo, notifyUrl: merchant.url },
    { waitMs: 300 },
  );
  const { cancelOrderId } = started;
  const locker = await world.database.db.transaction();
  try {
    await locker.raw('SELECT status FROM cancellations WHERE cancel_order_id = ? FOR NO KEY UPDATE', [
      cancelOrderId,
    ]);
    await runWaitsForLock('%cancellations%for update%');
    // The run holds SUCCEEDED and waits to write it; a repair writes a refusal first (the same
    // write reconciliation and late callbacks make).
    const repair = await completeRecord(
      locker,
      cancelOrderId,
      { kind: 'refused', state: 3, code: '62009', message: 'refused, as the repair read it' },
      'test: a repair wrote first',
    );
    expect(repair).toMatchObject({ written: 'applied', status: 'FAILED', state: 3 });
  } finally {
    await locker.commit();
  }
  const result = await world.cancelflow.waitForResult(started.workflowId);
  const row = await world.database
    .db('cancellations')
    .where({ cancel_order_id: cancelOrderId })
    .first<{ status: string; state: number; err_code: string }>('status', 'state', 'err_code');
  expect(row).toMatchObject({ status: 'FAILED', state: 3, err_code: '62009' });
  // The run's word is the books' word, never its own unwritten SUCCEEDED.
  expect(result).toMatchObject({ cancelOrderId, status: 'FAILED', state: 3, errCode: '62009' });
  const again = await world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo });
  expect(again).toMatchObject({ cancelOrderId, answer: { status: 'FAILED', state: 3 } });
  // Settled by another writer: the run sent no notification of its own (no attempt, no child).
  const events = (await world.temporal.client.workflow.getHandle(started.workflowId).fetchHistory()).events!;
  const scheduled = events
    .filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
    .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name);
  expect(scheduled).not.toContain('deliverFirstNotification');
  expect(
    events.some((e) => e.eventType === EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED),
  ).toBe(false);
  expect(merchant.received).toHaveLength(0);
  await merchant.close();
});

test.each([0, 50])(
  'a merchant wait of %i ms, shorter than the start: the run is started all the same, and a repeat gets its cancellation',
  async (waitMs) => {
    const payOrderId = world.unified.setOrder({});
    const workflowId = cancellationWorkflowId(
      'unified-test',
      { mchNo: UNIFIED_APP.mchNo, appId: UNIFIED_APP.appId },
      orderRefOf({ payOrderId }),
    );
    const first = await world.cancelflow.startCancellation({ ...UNIFIED_APP, payOrderId }, { waitMs }).then(
      (a) => ({ ok: a }),
      (error: unknown) => ({ error }),
    );
    // Answered (the run was quick) or told to ask again: never an id that does not exist.
    if ('ok' in first) expect(first.ok.cancelOrderId).toMatch(/^C\d{21}$/);
    else expect(first).toMatchObject({ error: { code: 'NOT_RECORDED' } });
    // Either way the run exists and finishes: the request was not lost.
    const result = await world.cancelflow.waitForResult(workflowId);
    expect(result.status).toBe('SUCCEEDED');
    const again = await world.cancelflow.startCancellation({ ...UNIFIED_APP, payOrderId });
    expect(again).toMatchObject({ cancelOrderId: result.cancelOrderId, answer: { state: 2 } });
    expect(world.unified.order(payOrderId)?.calls.filter((c) => c === 'cancel')).toHaveLength(1);
  },
);

test('a negative merchant wait is refused, naming it', async () => {
  await expect(
    world.cancelflow.startCancellation({ ...UNIFIED_APP, payOrderId: 'P-never' }, { waitMs: -1 }),
  ).rejects.toMatchObject({ code: 'INVALID_OPTION', message: expect.stringContaining('waitMs') });
});

test('a merchant wait shorter than the start, and the newest run of the order terminated: carried on (never answered from the closed run)', async () => {
  const mchOrderNo = `AW-term-${Date.now()}`;
  // The first cancel is never answered: the run is stopped by hand while it waits for it.
  world.payby.setOrder(mchOrderNo, { status: 'CREATED', faults: ['timeout'] });
  const first = await world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo }, { waitMs: 300 });
  await world.temporal.client.workflow.getHandle(first.workflowId).terminate('test: by hand');

  const repeat = await world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo }, { waitMs: 0 }).then(
    (a) => ({ ok: a }),
    (error: unknown) => ({ error }),
  );
  // Not the terminated run's stale state 1: told to ask again while a new run carries it on.
  expect(repeat).toMatchObject({ error: { code: 'NOT_RECORDED' } });
  const result = await eventually(async () => {
    const d = await world.temporal.client.workflow.getHandle(first.workflowId).describe();
    return d.status.name !== 'TERMINATED' ? world.cancelflow.waitForResult(first.workflowId) : undefined;
  });
  // The same cancellation, carried on (it asked before sending again), and final.
  expect(result).toMatchObject({ cancelOrderId: first.cancelOrderId, status: 'SUCCEEDED', state: 2 });
});
