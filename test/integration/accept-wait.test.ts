import { temporal as proto } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { cancellationWorkflowId, orderRefOf } from '../../contract/ids';
import { createWorld, eventually, PAYBY_APP, UNIFIED_APP, type World } from '../helpers/world';

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
  const events = (await world.temporal.client.workflow.getHandle(started.workflowId).fetchHistory()).events!;
  expect(events.some((e) => e.eventType === EventType.EVENT_TYPE_TIMER_STARTED)).toBe(false);
  const result = await world.cancelflow.waitForResult(started.workflowId);
  expect(result.cancelOrderId).toBe(started.cancelOrderId);
  expect(result.status).toBe('SUCCEEDED');
  // A repeat now gets the same cancellation, final.
  const again = await world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo });
  expect(again).toMatchObject({ cancelOrderId: started.cancelOrderId, created: false, answer: { state: 2 } });
});
