import os from 'node:os';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createCancellationActivities } from '../../activities/cancellation';
import { createLogger } from '../../common/logger';
import type { RecordResult } from '../../contract/cancellation';
import { cancellationWorkflowId } from '../../contract/ids';
import { MAY_HAVE_SENT } from '../../contract/failures';
import type { CancelOutcome } from '../../providers/types';
import { temporal } from '@temporalio/proto';
import { freePort } from '../../scripts/ports';
import { post, signed } from '../../scripts/chaos/northbound';
import { startTsProcess, waitFor, type ManagedProcess } from '../helpers/processes';
import { createWorld, eventually, PAYBY_APP, type World } from '../helpers/world';

/**
 * The lean shape sends each cancel as a local activity (SUBMIT_LOCAL_PATCH): its result is only
 * recorded when the workflow task completes, so a worker that dies after sending leaves a task
 * that another worker runs again, local activity included. The claimed exchange key
 * (activities/adapters.ts writeAhead) is what stops that second try from sending a second cancel.
 */

let world: World;
const worker: { process?: ManagedProcess } = {};

beforeAll(async () => {
  // PayBy may take 10 s to answer, longer than the API's wait for the merchant (5 s).
  world = await createWorld({ providerResponseTimeoutMs: 10_000 });
});
afterAll(async () => {
  await worker.process?.kill9();
  await world?.close();
});

const exchanges = (cancelOrderId: string) =>
  world.database.db('provider_calls').where({ cancel_order_id: cancelOrderId }).orderBy('id');

describe('a claimed submit is sent by one try only', () => {
  const activities = () =>
    createCancellationActivities({
      db: world.database.db,
      config: world.config,
      logger: createLogger('silent'),
    });
  const environment = (workflowId: string) =>
    new MockActivityEnvironment(
      {
        workflowExecution: { workflowId, runId: 'run-1' },
        activityId: '2',
        isLocal: true,
        startToCloseTimeoutMs: 45_000,
        currentAttemptScheduledTimestampMs: Date.now(),
      },
      { logger: new DefaultLogger('ERROR', () => undefined) },
    );

  test('the second try with the same key sends nothing and says MAY_HAVE_SENT; another key sends', async () => {
    const mchOrderNo = `FENCE-${Date.now()}`;
    world.payby.setOrder(mchOrderNo, { status: 'CREATED' });
    const workflowId = `cancel/fence/${mchOrderNo}`;
    const requestedAt = Date.now();
    const recorded: RecordResult = await environment(workflowId).run(activities().recordCancellation, {
      accountId: 'payby-test',
      provider: 'payby' as const,
      mchNo: PAYBY_APP.mchNo,
      appId: PAYBY_APP.appId,
      order: { mchOrderNo },
      orderRef: `mch:${mchOrderNo}`,
      requestedAt,
      deadlineAt: requestedAt + 60_000,
      submitting: true,
    });
    if (recorded.kind !== 'created') throw new Error(`not created: ${JSON.stringify(recorded)}`);
    const submit = {
      cancelOrderId: recorded.cancelOrderId,
      accountId: 'payby-test',
      order: { mchOrderNo },
      exchangeKey: `${workflowId}/run-1/submit/1`,
    };

    const first: CancelOutcome = await environment(workflowId).run(activities().submitCancel, submit);
    expect(first.kind).toBe('cancelled');
    expect(world.payby.order(mchOrderNo)!.calls).toEqual(['cancel']);

    // The same step again (a retried workflow task): refused before anything leaves.
    const again = await environment(workflowId)
      .run(activities().submitCancel, submit)
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(again).toBeInstanceOf(ApplicationFailure);
    expect((again as ApplicationFailure).type).toBe(MAY_HAVE_SENT);
    expect((again as ApplicationFailure).nonRetryable).toBe(true);
    expect(world.payby.order(mchOrderNo)!.calls).toEqual(['cancel']);

    // The first try's row keeps its answer: the refused try wrote nothing over it.
    const rows = await exchanges(recorded.cancelOrderId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      exchange_key: submit.exchangeKey,
      operation: 'cancel',
      outcome: 'cancelled',
    });

    // The run's next cancel has its own key: it is sent (PayBy answers it as already cancelled).
    await environment(workflowId).run(activities().submitCancel, {
      ...submit,
      exchangeKey: `${workflowId}/run-1/submit/2`,
    });
    expect(world.payby.order(mchOrderNo)!.calls).toEqual(['cancel', 'cancel']);
    expect(await exchanges(recorded.cancelOrderId)).toHaveLength(2);
  });
});

describe('a worker killed while its cancel is at the provider', () => {
  test('the retried workflow task asks instead of sending again: one cancel, SUCCEEDED', async () => {
    const address = process.env.CANCELFLOW_TEST_TEMPORAL_ADDRESS;
    if (!address) throw new Error('CANCELFLOW_TEST_TEMPORAL_ADDRESS is not set: run through jest');
    await world.stopWorker();
    const [metricsPort, sdkMetricsPort] = await Promise.all([freePort(), freePort()]);
    worker.process = startTsProcess('worker', 'worker/main.ts', {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TMPDIR: os.tmpdir(),
        DATABASE_URL: world.database.url,
        TEMPORAL_ADDRESS: address,
        TEMPORAL_NAMESPACE: 'default',
        CANCELFLOW_TASK_QUEUE: world.temporal.taskQueue,
        CANCELFLOW_CONFIG: world.configPath,
        PUBLIC_BASE_URL: world.apiUrl,
        LOG_LEVEL: 'warn',
        CANCELFLOW_WORKFLOW_BUNDLE: process.env.CANCELFLOW_TEST_WORKFLOW_BUNDLE,
        CANCELFLOW_METRICS_PORT: String(metricsPort),
        CANCELFLOW_SDK_METRICS_PORT: String(sdkMetricsPort),
      },
    });
    const killed = worker.process;

    const mchOrderNo = `FENCE-KILL-${Date.now()}`;
    // The cancel is applied at once; its answer comes 20 s later, long after the worker is gone.
    world.payby.setOrder(mchOrderNo, { status: 'CREATED', holdCancelResponseMs: 20_000 });
    // The merchant's wait runs out while no worker can answer: told to ask again, as documented.
    const starting = world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo }).then(
      () => 'answered',
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    );
    await waitFor(
      'the cancel to reach PayBy',
      async () => (world.payby.order(mchOrderNo)?.calls.includes('cancel') ? true : undefined),
      { timeoutMs: 90_000, intervalMs: 10, watch: [killed] },
    );
    const info = await killed.kill9();
    expect(info.signal).toBe('SIGKILL');
    expect(world.payby.order(mchOrderNo)!.calls).toEqual(['cancel']);

    // Another worker: the workflow task the dead one held times out and is run again here.
    await world.startWorker();
    expect(await starting).toMatch(/ask again/);
    const workflowId = cancellationWorkflowId('payby-test', PAYBY_APP, `mch:${mchOrderNo}`);
    const result = await world.cancelflow.waitForResult(workflowId);
    expect(result).toMatchObject({ status: 'SUCCEEDED', state: 2, submits: 1, queries: 1 });
    // Asked again, the merchant gets the record's answer; nothing more is sent.
    const repeat = await world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo });
    expect(repeat).toMatchObject({
      cancelOrderId: result.cancelOrderId,
      created: false,
      answer: { status: 'SUCCEEDED', state: 2 },
    });
    // Asked, not sent again.
    expect(world.payby.order(mchOrderNo)!.calls).toEqual(['cancel', 'query']);
    const rows = await eventually(async () => {
      const all = await exchanges(result.cancelOrderId);
      return all.length === 2 ? all : undefined;
    });
    // The dead worker's cancel keeps its write-ahead row (sent, never answered); the query answered.
    expect(rows.map((r) => [r.operation, r.outcome])).toEqual([
      ['cancel', 'sent'],
      ['query', 'cancelled'],
    ]);
    expect(rows[0].exchange_key).toMatch(/\/submit\/1$/);
    // The second try of the task ran the submit again and was refused by the claim.
    const history = await world.temporal.client.workflow.getHandle(workflowId).fetchHistory();
    const { EventType } = temporal.api.enums.v1;
    const types = (history.events ?? []).map((e) => e.eventType);
    expect(types).toContain(EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT);
    // The cancel was a local activity (a marker); the only activity scheduled is the query.
    expect(types.filter((t) => t === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)).toHaveLength(1);
  }, 120_000);
});

describe('a provider slower than the merchant wait', () => {
  test('the API answers in progress (state 1) with the cancelOrderId from Postgres while the cancel is still at PayBy, then it ends SUCCEEDED', async () => {
    if (world.worker.getState() !== 'RUNNING') await world.startWorker();
    const mchOrderNo = `FENCE-SLOW-${Date.now()}`;
    // Longer than the API's wait (cancelWaitMs 5 s, + 1 s for the whole call), shorter than our
    // HTTP timeout (10 s): the run's workflow task is still open, its local activity sending.
    world.payby.setOrder(mchOrderNo, { status: 'CREATED', holdCancelResponseMs: 8_000 });
    const answer = await post(world.apiUrl, '/api/pay/cancel', signed(PAYBY_APP, { mchOrderNo }));
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ code: 0, data: { state: 1 } });
    const cancelOrderId = String(answer.json!.data!.cancelOrderId);
    expect(cancelOrderId).toMatch(/^C\d{21}$/);
    // Answered before PayBy did: the cancel's row is still the one written ahead of the send.
    const [ahead] = await exchanges(cancelOrderId);
    expect(ahead).toMatchObject({ operation: 'cancel', outcome: 'sent' });

    const workflowId = cancellationWorkflowId('payby-test', PAYBY_APP, `mch:${mchOrderNo}`);
    const result = await world.cancelflow.waitForResult(workflowId);
    expect(result).toMatchObject({ cancelOrderId, status: 'SUCCEEDED', state: 2, submits: 1 });
    expect(world.payby.order(mchOrderNo)!.calls).toEqual(['cancel']);
  }, 60_000);
});
