import { temporal as proto } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { cancellationWorkflowId, orderRefOf } from '../../contract/ids';
import { createWorld, eventually, UNIFIED_APP, type World } from '../helpers/world';

/**
 * The merchant's wait (the `accept` update's own timer) running out while the run's first local
 * activity is held. A chaos run found a run stuck for good on exactly this: the timer fired, the
 * handler answered while `recordCancellation` (a local activity) was still in flight, and the
 * local activity's result and the timer came back in one activation on replay, in the other order
 * (RELIABILITY.md, docs/incidents/2026-11-30-update-timer-vs-local-activity.binpb).
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

test('the merchant wait runs out while recordCancellation is held: the answer waits for the record, and the history replays', async () => {
  const payOrderId = world.unified.setOrder({});
  const workflowId = cancellationWorkflowId(
    'unified-test',
    { mchNo: UNIFIED_APP.mchNo, appId: UNIFIED_APP.appId },
    orderRefOf({ payOrderId }),
  );
  // The run's first step (recordCancellation, a local activity) reads cancellation_refs FOR UPDATE:
  // it waits for this lock. The worker keeps the workflow task alive meanwhile (reporting it every
  // ~8 s, which is when the server starts the update's 300 ms timer).
  const locker = await world.database.db.transaction();
  let released = false;
  const release = async () => {
    if (!released) await locker.commit();
    released = true;
  };
  try {
    await locker.raw('LOCK TABLE cancellation_refs IN ACCESS EXCLUSIVE MODE');
    const answer = world.cancelflow.startCancellation({ ...UNIFIED_APP, payOrderId }, { waitMs: 300 }).then(
      (a) => ({ ok: a }),
      (error: unknown) => ({ error }),
    );
    const events = async () =>
      (await world.temporal.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    // The merchant's wait ran out with the record still held.
    await eventually(
      async () =>
        (await events().catch(() => [])).some((e) => e.eventType === EventType.EVENT_TYPE_TIMER_FIRED),
      40_000,
    );
    await release();

    const got = await answer;
    const result = await world.cancelflow.waitForResult(workflowId);
    expect(result.status).toBe('SUCCEEDED');

    // The timer fired before the record's marker, and the update completed after it.
    const history = await world.temporal.client.workflow.getHandle(workflowId).fetchHistory();
    const types = (history.events ?? []).map((e) => e.eventType);
    const timerFired = types.indexOf(EventType.EVENT_TYPE_TIMER_FIRED);
    const firstMarker = types.indexOf(EventType.EVENT_TYPE_MARKER_RECORDED);
    const updateCompleted = types.indexOf(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED);
    expect(timerFired).toBeGreaterThan(-1);
    expect(timerFired).toBeLessThan(
      types.findIndex(
        (t, i) =>
          t === EventType.EVENT_TYPE_MARKER_RECORDED &&
          (history.events![i]!.markerRecordedEventAttributes?.markerName ?? '') === 'core_local_activity',
      ),
    );
    expect(firstMarker).toBeGreaterThan(-1);
    expect(updateCompleted).toBeGreaterThan(timerFired);

    // A full replay with today's bundle gives the same commands (the stuck run failed exactly here).
    const replayed = await Worker.runReplayHistory(
      { workflowBundle: world.temporal.workflowBundle },
      history,
      workflowId,
    ).then(
      () => 'ok',
      (err: unknown) => String(err),
    );
    expect(replayed).toBe('ok');

    // Answered with the recorded cancellation (not "not recorded yet"), in progress or final.
    expect(got).toMatchObject({ ok: { cancelOrderId: expect.stringMatching(/^C\d{21}$/) } });
  } finally {
    await release();
  }
});
