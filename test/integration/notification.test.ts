import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createNotificationActivities } from '../../activities/notification';
import { createCancelflowClient } from '../../client';
import { createLogger } from '../../common/logger';
import { refusedAddress } from '../../common/url-policy';
import { verifyMd5Sign } from '../../providers/unified/sign';
import { CancelNotification } from '../../workflows/search-attributes';
import { notificationWorkflowId } from '../../contract/ids';
import { type FirstNotificationResult, type NotificationResult } from '../../contract/notification';
import type { CancellationSnapshot } from '../../contract/cancellation';
import { freePort } from '../../scripts/ports';
import { recordFixtures, replayCompletedRuns } from '../helpers/replay';
import {
  createWorld,
  eventually,
  FAST_TIMINGS,
  HOOKED_APP,
  PAYBY_APP,
  startReceiver,
  type Receiver,
  type World,
} from '../helpers/world';

let world: World;
const receivers: Receiver[] = [];
let seq = 0;

beforeAll(async () => {
  world = await createWorld({ notificationTimeoutMs: 300 });
});
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await world?.close();
});

async function receiver(answer: (n: number) => string): Promise<Receiver> {
  const r = await startReceiver(answer);
  receivers.push(r);
  return r;
}

/**
 * A merchant endpoint that answers the n-th request with `answer(n)` (status, body), after
 * `before(n)` has run: the moment a request has reached the merchant, to inject a fault in.
 */
async function statusReceiver(
  answer: (n: number) => [number, string],
  before: (n: number) => Promise<void> = async () => {},
): Promise<Receiver> {
  const received: Receiver['received'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const n = received.length;
      received.push({
        at: Date.now(),
        params: Object.fromEntries(new URLSearchParams(raw)),
        headers: req.headers,
        raw,
      });
      void before(n).then(() => {
        const [status, body] = answer(n);
        res.statusCode = status;
        res.end(body);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const r: Receiver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/notify`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  receivers.push(r);
  return r;
}

/**
 * A cancellation whose first notification attempt has reached the merchant and is held there until
 * `release()` (then answered "down"; later attempts "success"), with 3 attempts in its schedule.
 */
async function firstAttemptHeld() {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const merchant = await statusReceiver(
    (n) => [200, n === 0 ? 'down' : 'success'],
    (n) => (n === 0 ? held : Promise.resolve()),
  );
  const mchOrderNo = `NT-${++seq}`;
  world.payby.setOrder(mchOrderNo, { status: 'CREATED', amount: 1.15, currency: 'AED' });
  const client = createCancelflowClient({
    client: world.temporal.client,
    config: world.config,
    timings: { ...FAST_TIMINGS, notificationScheduleMs: [0, 10, 10] },
  });
  const started = await client.startCancellation({ ...PAYBY_APP, mchOrderNo, notifyUrl: merchant.url });
  return { merchant, release, client, started };
}

/** Makes every read and write of notification attempts fail, as a Postgres outage would for them. */
async function attemptsTableOff(): Promise<void> {
  await world.database.db.raw('ALTER TABLE notification_attempts RENAME TO notification_attempts_off');
}
async function attemptsTableOn(): Promise<void> {
  await world.database.db.raw(
    'ALTER TABLE IF EXISTS notification_attempts_off RENAME TO notification_attempts',
  );
}
afterEach(async () => {
  await attemptsTableOn();
});

/** A PayBy cancellation that succeeds at once and notifies `notifyUrl`; resolves with the round's result. */
async function cancelAndNotify(
  notifyUrl: string,
  options: {
    app?: typeof PAYBY_APP;
    scheduleMs?: number[];
    /** Runs once the cancellation has started, before its notification's result is awaited. */
    whileRunning?: (cancelOrderId: string) => Promise<void>;
  } = {},
): Promise<{ cancelOrderId: string; notification: NotificationResult }> {
  const mchOrderNo = `NT-${++seq}`;
  world.payby.setOrder(mchOrderNo, { status: 'CREATED', amount: 1.15, currency: 'AED' });
  const client = createCancelflowClient({
    client: world.temporal.client,
    config: world.config,
    timings: {
      ...FAST_TIMINGS,
      ...(options.scheduleMs ? { notificationScheduleMs: options.scheduleMs } : {}),
    },
  });
  const app = options.app ?? PAYBY_APP;
  const started = await client.startCancellation({
    mchNo: app.mchNo,
    appId: app.appId,
    mchOrderNo,
    notifyUrl,
  });
  await options.whileRunning?.(started.cancelOrderId);
  const result = await client.waitForResult(started.workflowId);
  expect(result.status).toBe('SUCCEEDED');
  return { cancelOrderId: started.cancelOrderId, notification: await notificationOf(result) };
}

/**
 * The first round's result: the cancellation's run makes attempt 1 itself; only a failed one with
 * attempts left is carried on by the notification workflow (same round), whose result then tells.
 */
async function notificationOf(result: CancellationSnapshot): Promise<NotificationResult> {
  if (result.notification === 'retrying') {
    expect(result.notificationWorkflowId).toBe(notificationWorkflowId(result.cancelOrderId));
    return (await world.temporal.client.workflow
      .getHandle(notificationWorkflowId(result.cancelOrderId))
      .result()) as NotificationResult;
  }
  // Finished by the run itself: no notification workflow was started.
  expect(result.notificationWorkflowId).toBeUndefined();
  await expect(
    world.temporal.client.workflow.getHandle(notificationWorkflowId(result.cancelOrderId)).describe(),
  ).rejects.toThrow(/not found/i);
  const row = await world.database
    .db('notifications')
    .where({ cancel_order_id: result.cancelOrderId })
    .first<{ notification_id: string; rounds: number; status: string }>();
  expect(row.status).toBe(result.notification);
  const made = await attempts(row.notification_id).where({ round: row.rounds });
  return {
    notificationId: row.notification_id,
    cancelOrderId: result.cancelOrderId,
    round: row.rounds,
    delivered: result.notification === 'delivered',
    attempts: made.length,
  };
}

/** The workflows that made a cancellation's first round of attempts: its own run, then the child's. */
async function attemptRuns(cancelOrderId: string): Promise<Array<{ workflowId: string; activity: string }>> {
  const { workflowId } = await world.cancelflow.getCancellation(cancelOrderId);
  return [
    { workflowId, activity: 'deliverFirstNotification' },
    { workflowId: notificationWorkflowId(cancelOrderId), activity: 'deliverNotificationAttempt' },
  ];
}

const attempts = (notificationId: string) =>
  world.database
    .db('notification_attempts')
    .where({ notification_id: notificationId })
    .orderBy(['round', 'attempt_no']);
const notificationRow = (notificationId: string) =>
  world.database.db('notifications').where({ notification_id: notificationId }).first();

describe('notification delivery', () => {
  test('fails twice then "success": delivered on attempt 3, same signed payload every time, spaced by the schedule', async () => {
    const merchant = await receiver((n) => (n < 2 ? 'fail' : 'success'));
    const { cancelOrderId, notification } = await cancelAndNotify(merchant.url);
    expect(notification).toMatchObject({ delivered: true, attempts: 3, round: 1 });
    expect(merchant.received).toHaveLength(3);
    const [a, b, c] = merchant.received;
    expect(b!.at - a!.at).toBeGreaterThanOrEqual(30);
    expect(c!.at - b!.at).toBeGreaterThanOrEqual(60);
    for (const r of merchant.received) {
      expect(r.raw).toBe(a!.raw);
      expect(r.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(r.headers['x-notification-id']).toBe(notification.notificationId);
    }
    // Seed 000's fields, signed with the calling app's key.
    expect(Object.keys(a!.params).sort()).toEqual(
      [
        'cancelOrderId',
        'payOrderId',
        'mchNo',
        'appId',
        'payAmount',
        'currency',
        'state',
        'channelOrderNo',
        'errCode',
        'errMsg',
        'extraParam',
        'createdAt',
        'successTime',
        'reqTime',
        'sign',
      ].sort(),
    );
    expect(a!.params).toMatchObject({ cancelOrderId, state: '2', payAmount: '115', currency: 'AED' });
    expect(verifyMd5Sign(a!.params, a!.params.sign, PAYBY_APP.key)).toBe(true);
    const rows = await attempts(notification.notificationId);
    expect(rows.map((r) => [r.attempt_no, r.success, r.http_status])).toEqual([
      [1, false, 200],
      [2, false, 200],
      [3, true, 200],
    ]);
    expect(rows[0]).toMatchObject({ body_excerpt: 'fail', error: expect.stringContaining('not "success"') });
    expect(await notificationRow(notification.notificationId)).toMatchObject({
      status: 'delivered',
      attempts: 3,
    });
  });

  test('the happy path is one workflow of at most 25 history events, the first notification attempt included', async () => {
    const merchant = await receiver(() => 'success');
    const { cancelOrderId, notification } = await cancelAndNotify(merchant.url);
    expect(notification).toMatchObject({ delivered: true, attempts: 1, round: 1 });
    const { workflowId, notification: state } = await world.cancelflow.getCancellation(cancelOrderId);
    expect(state).toBe('delivered');
    const events = (await world.temporal.client.workflow.getHandle(workflowId).fetchHistory()).events!;
    const activities = events
      .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
      .filter(Boolean);
    // The provider's cancel and the notification's first attempt: the only round trips through
    // the task queue. No timer, no child, the record and its transitions as local activities.
    expect(activities).toEqual(['submitCancel', 'deliverFirstNotification']);
    expect(events.some((e) => e.timerStartedEventAttributes)).toBe(false);
    expect(events.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)).toBe(false);
    expect(events.length).toBeLessThanOrEqual(25);
    // The merchant's answer (the update) completed before the notification's attempt started.
    const scheduled = events.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'deliverFirstNotification',
    )!.eventId;
    const attemptStarted = events.findIndex(
      (e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(scheduled),
    );
    const answered = events.findIndex((e) => e.workflowExecutionUpdateCompletedEventAttributes);
    expect(answered).toBeGreaterThan(-1);
    expect(attemptStarted).toBeGreaterThan(answered);
  });

  test('"SUCCESS" in capitals is a success', async () => {
    const merchant = await receiver(() => 'SUCCESS');
    const { notification } = await cancelAndNotify(merchant.url);
    expect(notification).toMatchObject({ delivered: true, attempts: 1 });
  });

  for (const [label, body] of [
    ['a leading space', ' success'],
    ['a trailing line break', 'success\n'],
    ['"ok"', 'ok'],
  ] as const) {
    test(`an answer with ${label} is a failure: 6 attempts, then failed`, async () => {
      const merchant = await receiver(() => body);
      const { cancelOrderId, notification } = await cancelAndNotify(merchant.url);
      expect(notification).toMatchObject({ delivered: false, attempts: 6 });
      expect(merchant.received).toHaveLength(6);
      expect(await notificationRow(notification.notificationId)).toMatchObject({
        status: 'failed',
        attempts: 6,
      });
      // The cancellation keeps its terminal state; the failure is visible in the UI.
      expect(
        await world.database.db('cancellations').where({ cancel_order_id: cancelOrderId }).first(),
      ).toMatchObject({ status: 'SUCCEEDED', state: 2 });
      const d = await world.temporal.client.workflow
        .getHandle(notificationWorkflowId(cancelOrderId))
        .describe();
      expect(d.typedSearchAttributes.get(CancelNotification)).toBe('failed');
    });
  }

  test('a receiver that hangs, and one that refuses connections, fail every attempt', async () => {
    const hanging = await receiver(() => 'hang');
    const closedPort = await freePort();
    const [hang, refused] = await Promise.all([
      cancelAndNotify(hanging.url, { scheduleMs: [0, 10, 10] }),
      cancelAndNotify(`http://127.0.0.1:${closedPort}/notify`, { scheduleMs: [0, 10, 10] }),
    ]);
    expect(hang.notification).toMatchObject({ delivered: false, attempts: 3 });
    expect(refused.notification).toMatchObject({ delivered: false, attempts: 3 });
    expect((await attempts(hang.notification.notificationId)).map((r) => r.error)).toEqual([
      expect.stringMatching(/ETIMEDOUT|timeout/i),
      expect.stringMatching(/ETIMEDOUT|timeout/i),
      expect.stringMatching(/ETIMEDOUT|timeout/i),
    ]);
    expect((await attempts(refused.notification.notificationId))[0]!.error).toMatch(/ECONNREFUSED/);
  });

  test('redelivery by hand: a fresh round with the same id and the same signed payload', async () => {
    let healthy = false;
    const merchant = await receiver(() => (healthy ? 'success' : 'down'));
    const { cancelOrderId, notification } = await cancelAndNotify(merchant.url, { scheduleMs: [0, 10] });
    expect(notification.delivered).toBe(false);
    healthy = true;
    const client = createCancelflowClient({ client: world.temporal.client, config: world.config });
    await client.redeliverNotification(cancelOrderId, [0, 10]);
    const second = (await world.temporal.client.workflow
      .getHandle(notificationWorkflowId(cancelOrderId))
      .result()) as NotificationResult;
    expect(second).toMatchObject({
      delivered: true,
      round: 2,
      attempts: 1,
      notificationId: notification.notificationId,
    });
    expect(merchant.received).toHaveLength(3);
    expect(merchant.received[2]!.raw).toBe(merchant.received[0]!.raw);
    expect(merchant.received[2]!.headers['x-notification-id']).toBe(notification.notificationId);
    expect((await attempts(notification.notificationId)).map((r) => `${r.round}.${r.attempt_no}`)).toEqual([
      '1.1',
      '1.2',
      '2.1',
    ]);
    expect(await notificationRow(notification.notificationId)).toMatchObject({
      status: 'delivered',
      rounds: 2,
    });
    await expect(client.redeliverNotification('C000000000000000000000')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  test('the run terminated by hand during its first attempt: redelivery by hand still works and delivers the same payload', async () => {
    const { merchant, release, client, started } = await firstAttemptHeld();
    // Attempt 1 has reached the merchant: the operator terminates the run now.
    await eventually(async () => merchant.received.length === 1);
    // Refused while the run is making its first attempt: a second round now would race it.
    await expect(client.redeliverNotification(started.cancelOrderId, [0])).rejects.toMatchObject({
      code: 'DELIVERING',
    });
    await world.temporal.client.workflow.getHandle(started.workflowId).terminate('test: by hand');
    release();
    const redelivery = await client.redeliverNotification(started.cancelOrderId, [0]);
    const result = (await world.temporal.client.workflow
      .getHandle(redelivery.workflowId)
      .result()) as NotificationResult;
    expect(result).toMatchObject({ delivered: true, attempts: 1 });
    expect(merchant.received).toHaveLength(2);
    expect(merchant.received[1]!.raw).toBe(merchant.received[0]!.raw);
  });

  test('a notification round started by hand before the run carries its own on: the run completes, one round delivers', async () => {
    const { merchant, release, client, started } = await firstAttemptHeld();
    await eventually(async () => merchant.received.length === 1);
    // Someone starts the notification workflow by hand (not through the client, which refuses now).
    await world.temporal.client.workflow.start('notificationWorkflow', {
      workflowId: notificationWorkflowId(started.cancelOrderId),
      taskQueue: world.config.temporal.taskQueue,
      args: [{ cancelOrderId: started.cancelOrderId, scheduleMs: [0] }],
    });
    // Attempt 1 fails: the run's own carry-on finds the hand-started round there.
    release();
    const result = await client.waitForResult(started.workflowId);
    expect(result).toMatchObject({ status: 'SUCCEEDED', notification: 'retrying' });
    const byHand = (await world.temporal.client.workflow
      .getHandle(notificationWorkflowId(started.cancelOrderId))
      .result()) as NotificationResult;
    expect(byHand.delivered).toBe(true);
    await eventually(async () => merchant.received.length === 2);
    expect(merchant.received.every((r) => r.raw === merchant.received[0]!.raw)).toBe(true);
  });

  test('apps with a webhook secret also get Standard Webhooks headers that verify', async () => {
    const merchant = await receiver(() => 'success');
    const { notification } = await cancelAndNotify(merchant.url, { app: HOOKED_APP });
    const r = merchant.received[0]!;
    expect(r.headers['webhook-id']).toBe(notification.notificationId);
    const timestamp = String(r.headers['webhook-timestamp']);
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
    const key = Buffer.from(HOOKED_APP.webhookSecret.slice('whsec_'.length), 'base64');
    const expected = createHmac('sha256', key)
      .update(`${notification.notificationId}.${timestamp}.${r.raw}`)
      .digest('base64');
    expect(r.headers['webhook-signature']).toBe(`v1,${expected}`);
    expect(verifyMd5Sign(r.params, r.params.sign, HOOKED_APP.key)).toBe(true);
  });

  test('metadata and link-local addresses are refused without a request: at request time, and again at delivery', async () => {
    // At request time: nothing starts.
    const refused = await world.cancelflow
      .startCancellation({
        ...PAYBY_APP,
        mchOrderNo: 'NT-meta',
        notifyUrl: 'http://169.254.169.254/latest/meta-data',
      })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ field: 'notifyUrl' });
    expect(await world.database.db('cancellations').where({ mch_order_no: 'NT-meta' })).toHaveLength(0);

    // At delivery: a stored address that the policy refuses now (written before the rules
    // changed) is refused without a request, and the attempt is recorded.
    const merchant = await receiver(() => 'success');
    const { notification } = await cancelAndNotify(merchant.url, { scheduleMs: [0] });
    await world.database
      .db('notifications')
      .where({ notification_id: notification.notificationId })
      .update({ url: 'http://169.254.169.254/latest/meta-data' });
    const redelivery = await world.cancelflow.redeliverNotification(notification.cancelOrderId, [0]);
    const again = (await world.temporal.client.workflow
      .getHandle(redelivery.workflowId)
      .result()) as NotificationResult;
    expect(again).toMatchObject({ delivered: false, round: 2 });
    const round2 = (await attempts(notification.notificationId)).filter((a) => a.round === 2);
    expect(round2[0]!.error).toMatch(/refused: .*link-local/);
    expect(merchant.received).toHaveLength(1);
    const strict = { allowHosts: [], allowPrivateNetworks: false };
    expect(refusedAddress('localhost', '127.0.0.1', strict)).toMatch(/loopback or private/);
    expect(refusedAddress('x', '10.1.2.3', strict)).toMatch(/private/);
    expect(refusedAddress('x', '::ffff:169.254.169.254', { ...strict, allowPrivateNetworks: true })).toMatch(
      /link-local/,
    );
    expect(refusedAddress('hooks.example.com', '93.184.216.34', strict)).toBeUndefined();
    const listed = { allowHosts: ['*.example.com', '10.0.0.0/8'], allowPrivateNetworks: false };
    expect(refusedAddress('a.example.com', '93.184.216.34', listed)).toBeUndefined();
    expect(refusedAddress('evil.test', '93.184.216.34', listed)).toMatch(/not in notifications.allowHosts/);
    expect(refusedAddress('internal', '10.9.9.9', listed)).toBeUndefined();
  });

  test('a worker stopped between attempts: the schedule continues, no attempt lost or doubled', async () => {
    const merchant = await receiver((n) => (n < 2 ? 'fail' : 'success'));
    const mchOrderNo = `NT-${++seq}`;
    world.payby.setOrder(mchOrderNo, { status: 'CREATED' });
    const client = createCancelflowClient({
      client: world.temporal.client,
      config: world.config,
      timings: { ...FAST_TIMINGS, notificationScheduleMs: [0, 1_500, 100] },
    });
    const started = await client.startCancellation({ ...PAYBY_APP, mchOrderNo, notifyUrl: merchant.url });
    await eventually(async () => merchant.received.length === 1);
    await world.stopWorker();
    await new Promise((r) => setTimeout(r, 2_000)); // attempt 2 falls due while no worker runs
    expect(merchant.received).toHaveLength(1);
    await world.startWorker();
    const cancellation = await client.waitForResult(started.workflowId);
    expect(cancellation.notification).toBe('retrying');
    const result = await notificationOf(cancellation);
    expect(result).toMatchObject({ delivered: true, attempts: 3, round: 1 });
    expect(merchant.received).toHaveLength(3);
    expect((await attempts(result.notificationId)).map((r) => r.attempt_no)).toEqual([1, 2, 3]);
  });
});

describe('only an exchange with the merchant uses an attempt up', () => {
  const pendingAttempt = async (cancelOrderId: string) => {
    for (const { workflowId, activity } of await attemptRuns(cancelOrderId)) {
      const d = await world.temporal.client.workflow
        .getHandle(workflowId)
        .describe()
        .catch(() => undefined);
      const pending = d?.raw.pendingActivities?.find((a) => a.activityType?.name === activity);
      if (pending) return pending;
    }
    return undefined;
  };
  /** For each attempt activity, which run of it (Temporal's retry count, from 1) finished it. */
  const attemptActivityRuns = async (cancelOrderId: string) => {
    const runs: number[] = [];
    for (const { workflowId, activity } of await attemptRuns(cancelOrderId)) {
      const history = await world.temporal.client.workflow
        .getHandle(workflowId)
        .fetchHistory()
        .catch(() => undefined);
      const events = history?.events ?? [];
      const scheduled = new Set(
        events
          .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity)
          .map((e) => String(e.eventId)),
      );
      runs.push(
        ...events
          .filter((e) => scheduled.has(String(e.activityTaskStartedEventAttributes?.scheduledEventId)))
          .map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 0),
      );
    }
    return runs;
  };

  test('Postgres unwritable before the request: nothing is sent, the attempt is retried, then delivered as attempt 1', async () => {
    const merchant = await receiver(() => 'success');
    await attemptsTableOff();
    const { notification } = await cancelAndNotify(merchant.url, {
      whileRunning: async (cancelOrderId) => {
        // The attempt fails on Postgres and Temporal runs it again; the workflow counts nothing.
        const pending = await eventually(async () => {
          const a = await pendingAttempt(cancelOrderId);
          return a && (a.attempt ?? 0) >= 2 ? a : undefined;
        });
        expect(pending.lastFailure?.message).toMatch(/notification_attempts/);
        expect(merchant.received).toHaveLength(0);
        await attemptsTableOn();
      },
    });
    expect(notification).toMatchObject({ delivered: true, attempts: 1 });
    expect(merchant.received).toHaveLength(1);
    const rows = await attempts(notification.notificationId);
    expect(rows.map((r) => [r.attempt_no, r.state, r.success, r.http_status])).toEqual([
      [1, 'done', true, 200],
    ]);
    expect(await notificationRow(notification.notificationId)).toMatchObject({
      status: 'delivered',
      attempts: 1,
    });
  });

  test('Postgres unwritable after the request: the result is written when it is back, nothing is sent twice', async () => {
    const merchant = await statusReceiver(
      () => [200, 'success'],
      async (n) => {
        if (n > 0) return;
        await attemptsTableOff();
        setTimeout(() => void attemptsTableOn(), 1_500);
      },
    );
    const { notification } = await cancelAndNotify(merchant.url);
    expect(notification).toMatchObject({ delivered: true, attempts: 1 });
    expect(merchant.received).toHaveLength(1);
    const rows = await attempts(notification.notificationId);
    expect(rows.map((r) => [r.attempt_no, r.state, r.success, r.http_status])).toEqual([
      [1, 'done', true, 200],
    ]);
    expect(await notificationRow(notification.notificationId)).toMatchObject({
      status: 'delivered',
      attempts: 1,
    });
  });

  test('the worker is lost while Postgres is unwritable after the request: the next run records the answer it got, and sends nothing', async () => {
    let outage: Promise<void> | undefined;
    const merchant = await statusReceiver(
      () => [200, 'success'],
      async (n) => {
        if (n > 0) return;
        await attemptsTableOff();
        // Once the answer is in and cannot be written, the worker goes away; Postgres comes back.
        outage = (async () => {
          await new Promise((r) => setTimeout(r, 300));
          await world.stopWorker();
          await attemptsTableOn();
          await world.startWorker();
        })();
      },
    );
    const { cancelOrderId, notification } = await cancelAndNotify(merchant.url);
    await outage;
    expect(notification).toMatchObject({ delivered: true, attempts: 1 });
    expect(merchant.received).toHaveLength(1);
    expect((await attemptActivityRuns(cancelOrderId))[0]).toBeGreaterThanOrEqual(2);
    const rows = await attempts(notification.notificationId);
    expect(rows.map((r) => [r.attempt_no, r.state, r.success, r.http_status])).toEqual([
      [1, 'done', true, 200],
    ]);
    expect(await notificationRow(notification.notificationId)).toMatchObject({
      status: 'delivered',
      attempts: 1,
    });
  });
});

describe('delivered means a 2xx answering "success"', () => {
  test('a 500 answering "success" is a failed attempt; a 200 "success" then delivers on attempt 2', async () => {
    const merchant = await statusReceiver((n) => (n === 0 ? [500, 'success'] : [200, 'success']));
    const { notification } = await cancelAndNotify(merchant.url);
    expect(notification).toMatchObject({ delivered: true, attempts: 2 });
    expect(merchant.received).toHaveLength(2);
    const rows = await attempts(notification.notificationId);
    expect(rows.map((r) => [r.attempt_no, r.success, r.http_status])).toEqual([
      [1, false, 500],
      [2, true, 200],
    ]);
    expect(rows[0]).toMatchObject({
      body_excerpt: 'success',
      error: expect.stringMatching(/HTTP 500: not a 2xx/),
    });
    expect(await notificationRow(notification.notificationId)).toMatchObject({
      status: 'delivered',
      attempts: 2,
    });
  });

  test('any 2xx with "success" delivers; 3xx and 4xx with "success" do not, nor a 204 (it has no body)', async () => {
    const cases = [
      [201, 'success', true],
      [202, 'SUCCESS', true],
      [204, 'success', false],
      [302, 'success', false],
      [404, 'success', false],
    ] as const;
    const results = await Promise.all(
      cases.map(async ([status, body]) => {
        const merchant = await statusReceiver(() => [status, body]);
        return (await cancelAndNotify(merchant.url, { scheduleMs: [0] })).notification;
      }),
    );
    expect(results.map((n) => n.delivered)).toEqual(cases.map(([, , delivered]) => delivered));
    const statuses = await Promise.all(
      results.map(async (n) => (await attempts(n.notificationId)).map((r) => r.http_status)),
    );
    expect(statuses).toEqual(cases.map(([status]) => [status]));
  });
});

describe('replay', () => {
  test('every completed run of this suite replays; RECORD_HISTORIES=1 keeps a round carried on from attempt 2', async () => {
    const { histories, failures } = await replayCompletedRuns(world);
    expect(failures).toEqual([]);
    const carriedOn = histories.filter((h) => {
      const started = h.history.events?.[0]?.workflowExecutionStartedEventAttributes;
      const input = started?.input?.payloads?.[0]?.data;
      return (
        started?.workflowType?.name === 'notificationWorkflow' &&
        input !== undefined &&
        input !== null &&
        'carryOn' in (JSON.parse(Buffer.from(input).toString('utf8')) as object)
      );
    });
    // Every failed first attempt with attempts left was carried on by a child (several tests above).
    expect(carriedOn.length).toBeGreaterThan(3);
    recordFixtures(carriedOn.slice(0, 1).map((h) => ({ ...h, workflowId: 'notify/carry-on' })));
  }, 60_000);
});

describe("the first attempt, made by the cancellation's own run", () => {
  test('its round is begun by the insert that stores the notification; the activity retried gets the same round and sends nothing again', async () => {
    const merchant = await receiver(() => 'not yet');
    const cancelOrderId = `C2020${String(Date.now()).padStart(17, '0')}`;
    await world.database.db('cancellations').insert({
      cancel_order_id: cancelOrderId,
      workflow_id: `cancel/payby-test/mch:NF-${cancelOrderId}`,
      mch_no: PAYBY_APP.mchNo,
      app_id: PAYBY_APP.appId,
      account_id: 'payby-test',
      provider: 'payby',
      order_ref: `mch:NF-${cancelOrderId}`,
      mch_order_no: `NF-${cancelOrderId}`,
      status: 'SUCCEEDED',
      state: 2,
      amount_minor: 115,
      currency: 'AED',
      notify_url: merchant.url,
    });
    const deliverFirst = () =>
      new MockActivityEnvironment(
        {
          workflowExecution: { workflowId: `cancel/first/${cancelOrderId}`, runId: 'run-first' },
          activityId: '4',
          startToCloseTimeoutMs: 30_000,
          currentAttemptScheduledTimestampMs: Date.now(),
        },
        { logger: new DefaultLogger('ERROR', () => undefined) },
      ).run(
        createNotificationActivities({
          db: world.database.db,
          config: world.config,
          logger: createLogger('silent'),
        }).deliverFirstNotification,
        { cancelOrderId, runId: 'run-first', scheduleLength: 3 },
      );
    const first = (await deliverFirst()) as FirstNotificationResult;
    expect(first).toMatchObject({ round: 1, delivered: false, finished: false });
    const row = await notificationRow(first.notificationId);
    expect(row).toMatchObject({ rounds: 1, round_run_id: 'run-first', status: 'delivering' });
    // A retry of the activity (its worker lost): the same round, its attempt 1 already made.
    expect(await deliverFirst()).toEqual(first);
    expect(merchant.received).toHaveLength(1);
    expect(await notificationRow(first.notificationId)).toMatchObject({
      rounds: 1,
      round_run_id: 'run-first',
      payload: row.payload,
    });
    expect((await attempts(first.notificationId)).map((r) => `${r.round}.${r.attempt_no}`)).toEqual(['1.1']);
  });
});
