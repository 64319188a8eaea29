import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Secret } from '../../common/secret';
import type { UnifiedAccount } from '../../common/config';
import { postRaw } from '../../providers/http';
import { buildUnifiedRequest, createUnifiedAdapter } from '../../providers/unified/adapter';
import { classifyUnifiedAnswer } from '../../providers/unified/classify';
import { verifyCancelNotification } from '../../providers/unified/notification';
import type { ProviderAdapter } from '../../providers/types';
import { startUnifiedSandbox, type UnifiedSandbox } from '../../sandbox/unified';

const APP = { mchNo: 'M1621873433953', appId: '60cc09bce4b0f1c0b83761c9', key: 'gateway-key-123' };
let sandbox: UnifiedSandbox;
let adapter: ProviderAdapter;

function account(overrides: Partial<UnifiedAccount> = {}): UnifiedAccount {
  return {
    id: 'hk-gw',
    provider: 'unified',
    baseUrl: sandbox.url,
    mchNo: APP.mchNo,
    appId: APP.appId,
    key: new Secret(APP.key),
    ...overrides,
  };
}

/** A merchant endpoint that answers the listed bodies in turn (the last one repeats). */
async function receiver(answers: string[]) {
  const received: Array<{ at: number; params: Record<string, string>; contentType?: string }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        at: Date.now(),
        params: Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))),
        contentType: req.headers['content-type'],
      });
      res.end(answers[Math.min(received.length - 1, answers.length - 1)]);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/notify`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(async () => {
  // The seed's 0/30/60/90/120/150 s schedule, scaled down 1000× (0/30/60/... ms).
  sandbox = await startUnifiedSandbox({ ...APP, notifyScale: 0.001 });
  adapter = createUnifiedAdapter(account(), { connectMs: 1_000, responseMs: 1_000 });
});
afterAll(() => sandbox.close());

const cancel = (payOrderId: string, notifyUrl?: string) =>
  adapter.submitCancel({ order: { payOrderId }, ...(notifyUrl ? { notifyUrl } : {}) });
const query = (providerCancelId?: string, order: { payOrderId?: string } = {}) =>
  adapter.queryCancel({ order, ...(providerCancelId ? { providerCancelId } : {}) });

describe('Unified adapter against the Unified sandbox', () => {
  test('cancelled at once: verified, the query returns the exact amount, the audit record holds no key', async () => {
    const pay = sandbox.setOrder({ amountMinor: 2174, currency: 'HKD' });
    const { outcome, exchange } = await cancel(pay);
    expect(outcome).toMatchObject({
      kind: 'cancelled',
      providerCancelId: expect.stringMatching(/^C\d{21}$/),
    });
    expect(exchange).toMatchObject({ operation: 'cancel', httpStatus: 200, signature: 'valid' });
    expect(JSON.stringify(exchange)).not.toContain(APP.key);
    const id = outcome.kind === 'cancelled' ? outcome.providerCancelId : undefined;
    expect((await query(id)).outcome).toMatchObject({
      kind: 'cancelled',
      amount: { minor: 2174, currency: 'HKD' },
      successTime: expect.any(Number),
    });
    // Asked with our payOrderId too: the answer names it, and says so (OrderFacts).
    expect((await query(id, { payOrderId: pay })).outcome).toMatchObject({
      kind: 'cancelled',
      providerCancelId: id,
      payOrderId: pay,
    });
  });

  test('by mchOrderNo, and a repeated cancel of the same order returns the same cancel order', async () => {
    sandbox.setOrder({ mchOrderNo: 'MO-repeat' });
    const first = await adapter.submitCancel({ order: { mchOrderNo: 'MO-repeat' } });
    const second = await adapter.submitCancel({ order: { mchOrderNo: 'MO-repeat' } });
    expect(first.outcome.kind).toBe('cancelled');
    expect(second.outcome).toEqual(first.outcome);
  });

  test('pending for N queries, then cancelled', async () => {
    const pay = sandbox.setOrder({ pendingQueries: 2 });
    const submitted = await cancel(pay);
    expect(submitted.outcome).toMatchObject({ kind: 'pending', state: 1 });
    const id = submitted.outcome.kind === 'pending' ? submitted.outcome.providerCancelId : undefined;
    expect(id).toMatch(/^C/);
    expect((await query(id)).outcome).toMatchObject({ kind: 'pending', state: 1 });
    expect((await query(id)).outcome).toMatchObject({ kind: 'pending', state: 1 });
    expect((await query(id)).outcome).toMatchObject({ kind: 'cancelled', providerCancelId: id });
  });

  test('already paid, settled → failure (3); already failed → closed (4); not found → refused', async () => {
    const paid = sandbox.setOrder({ result: 'paid' });
    const settled = sandbox.setOrder({ result: 'settled' });
    const failed = sandbox.setOrder({ result: 'failed' });
    expect((await cancel(paid)).outcome).toMatchObject({ kind: 'refused', state: 3, code: 'ORDER_PAID' });
    expect((await cancel(settled)).outcome).toMatchObject({
      kind: 'refused',
      state: 3,
      code: 'ORDER_SETTLED',
    });
    expect((await cancel(failed)).outcome).toMatchObject({
      kind: 'refused',
      state: 4,
      code: 'ORDER_FAILURE',
    });
    expect((await cancel('P-nobody')).outcome).toMatchObject({
      kind: 'refused',
      state: 3,
      code: '9999',
      message: 'order does not exist',
    });
  });

  for (const fault of ['http402', 'http500', 'http504', 'timeout', 'reset', 'empty', 'oversized'] as const) {
    test(`transient ${fault} twice → unknown twice, then fine`, async () => {
      const pay = sandbox.setOrder({ faults: [fault, fault] });
      const first = await cancel(pay);
      expect(first.outcome.kind).toBe('unknown');
      expect(first.exchange).toBeDefined();
      expect((await cancel(pay)).outcome.kind).toBe('unknown');
      expect((await cancel(pay)).outcome).toMatchObject({ kind: 'cancelled' });
      expect(sandbox.order(pay)!.calls).toEqual(['cancel', 'cancel', 'cancel']);
    });
  }

  test('an oversized answer is cut off and recorded as unknown, never parsed', async () => {
    const pay = sandbox.setOrder({ faults: ['oversized'] });
    const { outcome, exchange } = await cancel(pay);
    expect(outcome).toMatchObject({ kind: 'unknown', code: 'ERR_RESPONSE_TOO_LARGE' });
    expect(exchange?.error).toMatch(/too large/);
  });

  test('cancel applied but the response lost → unknown; no id to query → resubmit, which returns the same cancel order', async () => {
    const pay = sandbox.setOrder({ loseCancelResponse: true });
    expect((await cancel(pay)).outcome).toMatchObject({ kind: 'unknown', code: 'ECONNRESET' });
    const applied = sandbox.order(pay)!.cancel!;
    expect(applied.state).toBe(2);
    expect(await query(undefined)).toEqual({
      outcome: { kind: 'resubmit', authoritative: false, reason: 'no upstream cancelOrderId to query' },
    });
    expect((await cancel(pay)).outcome).toMatchObject({
      kind: 'cancelled',
      providerCancelId: applied.cancelOrderId,
    });
  });

  test('an answer signed with another key is never a success', async () => {
    const pay = sandbox.setOrder({ badSignature: true });
    const { outcome, exchange } = await cancel(pay);
    expect(outcome).toMatchObject({ kind: 'unknown', code: 'BAD_SIGNATURE' });
    expect(exchange?.signature).toBe('invalid');
  });

  test('malformed JSON → unknown with the reason recorded', async () => {
    const pay = sandbox.setOrder({ malformedJson: true });
    const { outcome, exchange } = await cancel(pay);
    expect(outcome.kind === 'unknown' && outcome.reason).toMatch(/not JSON/);
    expect(exchange?.responseBody).toBeTruthy();
  });

  test('our signature refused (wrong app key) → misconfigured, and nothing is cancelled', async () => {
    const pay = sandbox.setOrder({});
    const wrong = createUnifiedAdapter(account({ key: new Secret('not-the-key') }));
    expect((await wrong.submitCancel({ order: { payOrderId: pay } })).outcome).toMatchObject({
      kind: 'misconfigured',
      message: expect.stringContaining('Signature failed'),
    });
    expect(sandbox.order(pay)!.cancel).toBeUndefined();
  });

  test('a stale reqTime is refused by the sandbox and classified as retryable', async () => {
    const pay = sandbox.setOrder({});
    const stale = buildUnifiedRequest(APP, APP.key, { payOrderId: pay }, Date.now() - 11 * 60_000);
    const answer = await postRaw(
      `${sandbox.url}/api/pay/cancel`,
      { 'content-type': 'application/json' },
      JSON.stringify(stale),
    );
    expect(
      classifyUnifiedAnswer('cancel', answer, APP.key, { order: { payOrderId: pay } }).outcome,
    ).toMatchObject({
      kind: 'unknown',
      code: 'REQTIME',
    });
    expect(sandbox.order(pay)!.cancel).toBeUndefined();
    expect((await cancel(pay)).outcome).toMatchObject({ kind: 'cancelled' });
  });

  test('the sandbox accepts form bodies as the seed allows', async () => {
    const pay = sandbox.setOrder({});
    const params = buildUnifiedRequest(APP, APP.key, { payOrderId: pay });
    const answer = await postRaw(
      `${sandbox.url}/api/pay/cancel`,
      { 'content-type': 'application/x-www-form-urlencoded' },
      new URLSearchParams(params).toString(),
    );
    expect(
      classifyUnifiedAnswer('cancel', answer, APP.key, { order: { payOrderId: pay } }).outcome,
    ).toMatchObject({
      kind: 'cancelled',
    });
  });

  test('the Cancel Notification reaches notifyUrl signed, and is retried on the scaled schedule until "success"', async () => {
    const merchant = await receiver(['fail', 'SUCCESS ', 'SUCCESS']);
    try {
      const pay = sandbox.setOrder({ amountMinor: 5, currency: 'HKD', settleAfterMs: 20 });
      const submitted = await cancel(pay, merchant.url);
      expect(submitted.outcome).toMatchObject({ kind: 'pending', state: 1 });
      await until(() => merchant.received.length === 3);
      // Attempt 1 answered "fail", attempt 2 "SUCCESS " (a trailing space is a failure), attempt 3 "SUCCESS".
      await new Promise((r) => setTimeout(r, 150)); // a 4th attempt would come 90 ms later
      expect(merchant.received).toHaveLength(3);
      const [a, b, c] = merchant.received;
      expect(b!.at - a!.at).toBeGreaterThanOrEqual(30);
      expect(c!.at - b!.at).toBeGreaterThanOrEqual(60);
      expect(a!.contentType).toBe('application/x-www-form-urlencoded');
      // The same signed parameters on every attempt, verifiable with the app key.
      expect(b!.params).toEqual(a!.params);
      const verdict = verifyCancelNotification(a!.params, APP.key);
      expect(verdict).toMatchObject({
        verdict: 'valid',
        state: 2,
        outcome: { kind: 'cancelled', payOrderId: pay, amount: { minor: 5, currency: 'HKD' } },
      });
      expect(verifyCancelNotification(a!.params, 'other-key').verdict).toBe('invalid-signature');
      expect(sandbox.notifications.filter((n) => n.params.payOrderId === pay)).toHaveLength(3);
    } finally {
      await merchant.close();
    }
  });

  test('a merchant that never answers success gets exactly the 6 scheduled attempts', async () => {
    const merchant = await receiver(['no']);
    try {
      const pay = sandbox.setOrder({ result: 'paid' });
      await cancel(pay, merchant.url);
      await until(() => merchant.received.length === 6);
      await new Promise((r) => setTimeout(r, 300));
      expect(merchant.received).toHaveLength(6);
      expect(merchant.received[0]!.params).toMatchObject({ state: '3', errCode: 'ORDER_PAID' });
      const gaps = merchant.received.slice(1).map((r, i) => r.at - merchant.received[i]!.at);
      gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual((i + 1) * 30 - 2));
    } finally {
      await merchant.close();
    }
  });

  test('a repeated cancel names the cancel order we know; the answer must be about it', async () => {
    const pay = sandbox.setOrder({});
    const first = await cancel(pay);
    const id = first.outcome.kind === 'cancelled' ? first.outcome.providerCancelId : undefined;
    expect(id).toMatch(/^C/);
    const again = await adapter.submitCancel({ order: { payOrderId: pay }, providerCancelId: id });
    expect(again.outcome).toEqual(first.outcome);
    const wrong = await adapter.submitCancel({ order: { payOrderId: pay }, providerCancelId: 'C-not-ours' });
    expect(wrong.outcome).toMatchObject({ kind: 'unknown', code: 'MISADDRESSED' });
  });

  test('correctly signed answers about another order or cancel order never settle ours: MISADDRESSED', async () => {
    const pay = sandbox.setOrder({ amountMinor: 500, currency: 'HKD', misaddressed: true });
    // Seed 000's cancel answer names no payment order: the first answer's cancelOrderId cannot be
    // checked against anything, so it is taken; the query with our payOrderId finds it out.
    const first = await cancel(pay);
    expect(first.outcome).toMatchObject({ kind: 'cancelled' });
    const given = first.outcome.kind === 'cancelled' ? first.outcome.providerCancelId : undefined;
    const real = sandbox.order(pay)!.cancel!.cancelOrderId;
    expect(given).not.toBe(real);

    const byGiven = await query(given, { payOrderId: pay });
    expect(byGiven.outcome).toMatchObject({ kind: 'unknown', code: 'MISADDRESSED' });
    expect(byGiven.outcome.kind === 'unknown' && byGiven.outcome.reason).toContain(JSON.stringify(pay));
    expect(byGiven.exchange?.signature).toBe('valid');

    const byReal = await query(real, { payOrderId: pay });
    expect(byReal.outcome).toMatchObject({ kind: 'unknown', code: 'MISADDRESSED' });
    expect(byReal.outcome.kind === 'unknown' && byReal.outcome.reason).toContain(JSON.stringify(real));

    const repeated = await adapter.submitCancel({ order: { payOrderId: pay }, providerCancelId: real });
    expect(repeated.outcome).toMatchObject({ kind: 'unknown', code: 'MISADDRESSED' });
  });

  test('the cancel happened, its answer was lost, and the repeat is refused: an unsigned 9999', async () => {
    const pay = sandbox.setOrder({ loseCancelResponse: true, repeatRefusal: 'order status not allowed' });
    expect((await cancel(pay)).outcome).toMatchObject({ kind: 'unknown', code: 'ECONNRESET' });
    const applied = sandbox.order(pay)!.cancel!;
    expect(applied.state).toBe(2);
    expect((await query(undefined)).outcome).toEqual({
      kind: 'resubmit',
      authoritative: false,
      reason: 'no upstream cancelOrderId to query',
    });
    // The only way to ask is to cancel again, and the gateway refuses the repeat: a refusal that
    // says nothing about the cancel that landed (the caller must not take it as final after a
    // resubmit that was not authoritative).
    const repeat = await cancel(pay);
    expect(repeat.outcome).toEqual({
      kind: 'refused',
      state: 3,
      code: '9999',
      message: 'order status not allowed',
    });
    expect(repeat.exchange).toMatchObject({ signature: 'not-required', httpStatus: 200 });
    expect(JSON.parse(repeat.exchange!.responseBody!)).toEqual({
      code: 9999,
      msg: 'order status not allowed',
    });
    expect(sandbox.order(pay)!.calls).toEqual(['cancel', 'cancel']);
    // The gateway still has the cancel order: a query by its id shows it cancelled.
    expect((await query(applied.cancelOrderId, { payOrderId: pay })).outcome).toMatchObject({
      kind: 'cancelled',
      providerCancelId: applied.cancelOrderId,
    });
  });
});
