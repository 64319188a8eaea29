import { verifyMd5Sign } from '../../providers/unified/sign';
import { post, signed, type Answer } from './northbound';
import { prng, type PlannedOrder } from './orders';

export { planOrders, prng, type PlannedOrder } from './orders';

/**
 * The load: N orders, each set up in its sandbox with a behaviour drawn from a seeded generator
 * (the base outcome, and with probability `faultRate` a provider fault), then cancelled through
 * one of the two APIs at a steady rate, some sent again a few seconds later through the other API.
 * A request answered 9999 or not at all is sent again (fresh reqTime and sign, to the other API,
 * backing off 1, 2, 4, 8, then 10 s) until the patience runs out, as a merchant system with two
 * endpoints would.
 */

export interface Attempt {
  at: number;
  api: number;
  ms: number;
  status: number;
  code?: number;
  error?: string;
}

export interface RequestRecord {
  order: PlannedOrder;
  kind: 'first' | 'repeat';
  sentAt: number;
  attempts: Attempt[];
  final?: Answer;
  acceptedAt?: number;
  cancelOrderId?: string;
  state?: number;
  signOk?: boolean;
}

/** One request, re-sent (backing off) while it is answered 9999 or not at all, alternating the APIs. */
export async function sendCancel(
  record: RequestRecord,
  apiUrls: string[],
  patienceMs: number,
  startApi: number,
): Promise<void> {
  const { order } = record;
  let api = startApi;
  const giveUpAt = record.sentAt + patienceMs;
  for (;;) {
    const at = Date.now();
    const answer = await post(
      apiUrls[api]!,
      '/api/pay/cancel',
      signed(order.app, order.fields),
      order.form,
      30_000,
    );
    const code = answer.json?.code;
    record.attempts.push({
      at,
      api,
      ms: Date.now() - at,
      status: answer.status,
      ...(code !== undefined ? { code } : {}),
      ...(answer.error ? { error: answer.error } : {}),
    });
    record.final = answer;
    const retry = answer.error !== undefined || code === 9999 || code === undefined;
    if (!retry) break;
    // A merchant's back-off: 1, 2, 4, 8 s, then every 10 s.
    const pause = Math.min(10_000, 1_000 * 2 ** (record.attempts.length - 1));
    if (Date.now() + pause > giveUpAt) return;
    await new Promise((r) => setTimeout(r, pause));
    api = (api + 1) % apiUrls.length;
  }
  const json = record.final.json;
  if (json?.code === 0 && json.data) {
    record.acceptedAt = Date.now();
    record.cancelOrderId = String(json.data.cancelOrderId);
    record.state = Number(json.data.state);
    record.signOk = verifyMd5Sign(json.data, json.sign, order.app.key);
  }
}

/**
 * Sends the plan at `ratePerS` (repeats 2–10 s after their first request, through the other API);
 * stops launching at `stopAt`. Resolves when every launched request is finished.
 */
export async function runLoad(o: {
  orders: PlannedOrder[];
  ratePerS: number;
  apiUrls: string[];
  patienceMs: number;
  stopAt: number;
  seed: number;
  onProgress?: (sent: number, accepted: number) => void;
}): Promise<{
  records: RequestRecord[];
  notSent: number;
  startedAt: number;
  /** The last request was sent. */
  sentUntil: number;
  /** Every request was answered or given up. */
  endedAt: number;
}> {
  const rand = prng(o.seed ^ 0x5a5a5a);
  const records: RequestRecord[] = [];
  const inFlight = new Set<Promise<void>>();
  const startedAt = Date.now();
  const queue: Array<{ due: number; order: PlannedOrder; kind: 'first' | 'repeat' }> = o.orders.map(
    (order, k) => ({
      due: startedAt + (k * 1000) / o.ratePerS,
      order,
      kind: 'first',
    }),
  );
  for (const q of [...queue])
    if (q.order.repeat) queue.push({ due: q.due + 2_000 + rand() * 8_000, order: q.order, kind: 'repeat' });
  queue.sort((a, b) => a.due - b.due);
  let next = 0;
  let lastProgress = startedAt;
  while (next < queue.length && Date.now() < o.stopAt) {
    const now = Date.now();
    while (next < queue.length && queue[next]!.due <= now) {
      const q = queue[next++]!;
      const record: RequestRecord = { order: q.order, kind: q.kind, sentAt: Date.now(), attempts: [] };
      records.push(record);
      const api = q.kind === 'first' ? q.order.api : 1 - q.order.api;
      const p = sendCancel(record, o.apiUrls, o.patienceMs, api).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    if (o.onProgress && now - lastProgress >= 10_000) {
      lastProgress = now;
      o.onProgress(records.length, records.filter((r) => r.acceptedAt).length);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const sentUntil = Date.now();
  await Promise.all([...inFlight]);
  return { records, notSent: queue.length - next, startedAt, sentUntil, endedAt: Date.now() };
}
