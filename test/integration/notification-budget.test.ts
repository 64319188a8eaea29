import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createWorld, eventually, PAYBY_APP, type World } from '../helpers/world';

/**
 * The first notification attempt is one step of a longer activity (deliverFirstNotification:
 * prepare, begin the round, attempt, finish). Its exchange must fit in what is left of that
 * activity's 30 s, not in a fresh 30 s: an answer arriving after Temporal timed the activity out
 * would be lost, the attempt marked unknown and sent again to a merchant that had it.
 */

jest.setTimeout(180_000);

let world: World;
beforeAll(async () => {
  world = await createWorld({ notificationTimeoutMs: 10_000 });
});
afterAll(async () => {
  await world?.close();
});

test('Postgres slow before the first attempt and a slow merchant: sent once, delivered, never lost to a timeout', async () => {
  // The merchant answers "success" 9 s after each request (within the 10 s notification timeout).
  const received: number[] = [];
  const merchant = http.createServer((req, res) => {
    req.resume();
    received.push(Date.now());
    setTimeout(() => res.end('success'), 9_000);
  });
  await new Promise<void>((r) => merchant.listen(0, '127.0.0.1', r));
  const notifyUrl = `http://127.0.0.1:${(merchant.address() as AddressInfo).port}/notify`;
  // Postgres holds the attempts table: the first attempt's step waits ~22 s for it, inside an
  // activity that has 30 s in all.
  const locker = await world.database.db.transaction();
  let released = false;
  try {
    await locker.raw('LOCK TABLE notification_attempts IN ACCESS EXCLUSIVE MODE');
    const mchOrderNo = `NB-${Date.now()}`;
    world.payby.setOrder(mchOrderNo, { status: 'CREATED', amount: 1.15, currency: 'AED' });
    const started = await world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo, notifyUrl });
    expect(started.answer).toMatchObject({ status: 'SUCCEEDED' });
    await eventually(async () => {
      const { rows } = await world.database.db.raw<{ rows: Array<{ n: number }> }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE wait_event_type = 'Lock' AND query ILIKE '%notification_attempts%'`,
      );
      return rows[0]!.n > 0;
    }, 30_000);
    await new Promise((r) => setTimeout(r, 22_000));
    await locker.commit();
    released = true;

    const result = await world.cancelflow.waitForResult(started.workflowId);
    expect(result.status).toBe('SUCCEEDED');
    const attempts = await world.database
      .db('notification_attempts as a')
      .join('notifications as n', 'n.notification_id', 'a.notification_id')
      .where('n.cancel_order_id', started.cancelOrderId)
      .orderBy(['a.round', 'a.attempt_no'])
      .select<Array<{ round: number; attempt_no: number; state: string; success: boolean | null }>>(
        'a.round',
        'a.attempt_no',
        'a.state',
        'a.success',
      );
    // One attempt, delivered: the merchant was sent the notification once.
    expect(attempts.map((a) => `${a.round}.${a.attempt_no}:${a.state}:${a.success}`)).toEqual([
      '1.1:done:true',
    ]);
    expect(result.notification).toBe('delivered');
    expect(received).toHaveLength(1);
  } finally {
    if (!released) await locker.commit();
    merchant.closeAllConnections();
    await new Promise<void>((r) => merchant.close(() => r()));
  }
});
