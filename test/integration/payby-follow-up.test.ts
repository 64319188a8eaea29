import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Secret } from '../../common/secret';
import type { PaybyAccount } from '../../common/config';
import { createPaybyFollowUpAdapter } from '../../providers/payby/follow-up';
import { privateKeyFrom, publicKeyFrom } from '../../providers/payby/sign';
import type { FollowUpAdapter, OrderRef } from '../../providers/types';
import { startPaybySandbox, type PaybySandbox } from '../../sandbox/payby';

/**
 * The PayBy follow-ups for a paid order (issue 19) against the PayBy sandbox: revoke, refund,
 * refund query, getOrder's payment facts; lost answers resolved by asking, never by sending again;
 * the sandbox counts the money it moved.
 */

const KEYS = path.resolve(__dirname, '..', 'fixtures', 'keys');
const pem = (name: string): string => readFileSync(path.join(KEYS, name), 'utf8');

let sandbox: PaybySandbox;
let adapter: FollowUpAdapter;

function account(overrides: Partial<PaybyAccount> = {}): PaybyAccount {
  return {
    id: 'payby-test',
    provider: 'payby',
    baseUrl: sandbox.url,
    partnerId: '200000000888',
    privateKey: new Secret(pem('merchant-private.pem')),
    providerPublicKey: new Secret(pem('provider-public.pem')),
    ...overrides,
  };
}

beforeAll(async () => {
  sandbox = await startPaybySandbox({
    merchantPublicKey: publicKeyFrom(pem('merchant-public.pem')),
    providerPrivateKey: privateKeyFrom(pem('provider-private.pem')),
    wrongPrivateKey: privateKeyFrom(pem('other-private.pem')),
  });
  adapter = createPaybyFollowUpAdapter(account(), { connectMs: 1_000, responseMs: 1_000 });
});
afterAll(() => sandbox.close());

const AED = (minor: number) => ({ minor, currency: 'AED' });
const callsOf = (ref: string, call: string) => sandbox.order(ref)!.calls.filter((c) => c === call).length;
const refund = (refundMerchantOrderNo: string, order: OrderRef, minor = 2174) =>
  adapter.placeRefund({ refundMerchantOrderNo, order, amount: AED(minor), reason: 'cancelled by merchant' });

describe('PayBy revoke against the sandbox', () => {
  test('paid today → getOrder gives the paidTime, revoke is done, getOrder confirms revoked; one revoke', async () => {
    const paidAt = Date.now() - 60_000;
    // Paid with a discount: the payer paid 20.00 of the 21.74 total.
    sandbox.setOrder(
      'F-paid',
      { status: 'PAID_SUCCESS', amount: 21.74, paidAmount: 20, paidAt },
      '131422372621100001',
    );
    const before = await adapter.queryOrder({ mchOrderNo: 'F-paid' });
    // The cancel's view is unchanged: ORDER_PAID.
    expect(before.outcome).toMatchObject({ kind: 'refused', code: '62001' });
    expect(before.payment).toEqual({
      status: 'PAID_SUCCESS',
      revoked: false,
      paidTime: paidAt,
      payOrderId: '131422372621100001',
      mchOrderNo: 'F-paid',
      amount: AED(2174),
      paidAmount: AED(2000),
    });
    expect(before.revoke).toMatchObject({ kind: 'resubmit', authoritative: true });
    expect(before.exchange?.operation).toBe('query');

    const sent = Date.now();
    const revoked = await adapter.revokeOrder({ mchOrderNo: 'F-paid' });
    expect(revoked.outcome).toMatchObject({
      kind: 'done',
      effect: 'revoked',
      payOrderId: '131422372621100001',
      amount: AED(2174),
    });
    expect(revoked.outcome.kind === 'done' && revoked.outcome.successTime).toBeGreaterThanOrEqual(sent);
    expect(revoked.exchange).toMatchObject({
      operation: 'revoke',
      url: `${sandbox.url}/acquire2/revokeOrder`,
      httpStatus: 200,
      signature: 'valid',
      request: { body: { bizContent: { merchantOrderNo: 'F-paid' } } },
    });
    expect(JSON.stringify(revoked.exchange)).not.toContain('PRIVATE KEY');

    const after = await adapter.queryOrder({ mchOrderNo: 'F-paid' });
    expect(after.payment).toMatchObject({ status: 'FAILURE', revoked: true, paidTime: paidAt });
    expect(after.revoke).toMatchObject({ kind: 'done', effect: 'revoked' });
    expect(sandbox.order('F-paid')).toMatchObject({ revokes: 1, refunds: 0, revoked: true });
    expect(callsOf('F-paid', 'revoke')).toBe(1);
  });

  test('revoke answer lost (applied) → unknown; getOrder shows it revoked; PayBy saw exactly one revoke', async () => {
    sandbox.setOrder('F-lostrevoke', { status: 'PAID_SUCCESS', loseRevokeResponse: true });
    const lost = await adapter.revokeOrder({ mchOrderNo: 'F-lostrevoke' });
    expect(lost.outcome).toMatchObject({ kind: 'unknown', code: 'ECONNRESET' });
    expect(lost.exchange).toMatchObject({ operation: 'revoke', signature: 'not-checked' });
    expect(lost.exchange.error).toMatch(/ECONNRESET/);
    // Ask before sending again: the order shows the revoke.
    const asked = await adapter.queryOrder({ mchOrderNo: 'F-lostrevoke' });
    expect(asked.revoke).toMatchObject({ kind: 'done', effect: 'revoked' });
    expect(sandbox.order('F-lostrevoke')!.calls).toEqual(['revoke', 'query']);
    expect(sandbox.order('F-lostrevoke')!.revokes).toBe(1);
  });

  test('a transient failure moves nothing; getOrder shows it not revoked, so revoking is safe', async () => {
    sandbox.setOrder('F-revoke500', { status: 'PAID_SUCCESS', faults: ['http500'] });
    expect((await adapter.revokeOrder({ mchOrderNo: 'F-revoke500' })).outcome).toMatchObject({
      kind: 'unknown',
      code: 'HTTP_500',
    });
    expect(sandbox.order('F-revoke500')).toMatchObject({ status: 'PAID_SUCCESS', revokes: 0 });
    expect((await adapter.queryOrder({ mchOrderNo: 'F-revoke500' })).revoke).toMatchObject({
      kind: 'resubmit',
    });
    expect((await adapter.revokeOrder({ mchOrderNo: 'F-revoke500' })).outcome).toMatchObject({
      kind: 'done',
      effect: 'revoked',
    });
    expect(sandbox.order('F-revoke500')!.revokes).toBe(1);
  });

  test('settled → 62046 REVOKE_REJECTED; revoked or refunded already → 62041; unpaid → cancelled', async () => {
    sandbox.setOrder('F-settled', { status: 'SETTLED' });
    expect((await adapter.revokeOrder({ mchOrderNo: 'F-settled' })).outcome).toEqual({
      kind: 'refused',
      code: '62046',
      message: 'REVOKE_REJECTED',
    });
    expect(sandbox.order('F-settled')).toMatchObject({ status: 'SETTLED', revokes: 0 });

    sandbox.setOrder('F-twice', { status: 'PAID_SUCCESS' });
    expect((await adapter.revokeOrder({ mchOrderNo: 'F-twice' })).outcome).toMatchObject({ kind: 'done' });
    expect((await adapter.revokeOrder({ mchOrderNo: 'F-twice' })).outcome).toEqual({
      kind: 'refused',
      code: '62041',
      message: 'ACQUIRE_ORDER_REFUNDED',
    });
    expect(sandbox.order('F-twice')!.revokes).toBe(1);

    sandbox.setOrder('F-refunded', { status: 'PAID_SUCCESS' });
    expect((await refund('R-F-refunded', { mchOrderNo: 'F-refunded' })).outcome).toMatchObject({
      kind: 'pending',
    });
    expect((await adapter.revokeOrder({ mchOrderNo: 'F-refunded' })).outcome).toMatchObject({
      kind: 'refused',
      code: '62041',
    });

    sandbox.setOrder('F-unpaid', { status: 'CREATED' });
    const unpaid = await adapter.revokeOrder({ mchOrderNo: 'F-unpaid' });
    expect(unpaid.outcome).toMatchObject({ kind: 'done', effect: 'cancelled', mchOrderNo: 'F-unpaid' });
    expect(sandbox.order('F-unpaid')).toMatchObject({ status: 'FAILURE', revoked: false, revokes: 0 });

    expect((await adapter.revokeOrder({ mchOrderNo: 'F-nobody' })).outcome).toMatchObject({
      kind: 'refused',
      code: '62004',
    });
  });

  test('untrusted answers never confirm a revoke: wrong key, garbage, another order, our key refused', async () => {
    sandbox.setOrder('F-forged', { status: 'PAID_SUCCESS', badSignature: true });
    const forged = await adapter.revokeOrder({ mchOrderNo: 'F-forged' });
    expect(forged.outcome).toMatchObject({ kind: 'unknown', code: 'BAD_SIGNATURE' });
    expect(forged.exchange.signature).toBe('invalid');
    const forgedQuery = await adapter.queryOrder({ mchOrderNo: 'F-forged' });
    expect(forgedQuery.payment).toBeUndefined();
    expect(forgedQuery.revoke).toMatchObject({ kind: 'unknown', code: 'BAD_SIGNATURE' });

    sandbox.setOrder('F-garbage', { status: 'PAID_SUCCESS', malformedJson: true });
    expect((await adapter.revokeOrder({ mchOrderNo: 'F-garbage' })).outcome).toMatchObject({
      kind: 'unknown',
      reason: expect.stringMatching(/not JSON/),
    });

    sandbox.setOrder('F-elsewhere', { status: 'PAID_SUCCESS', misaddressed: true });
    expect((await adapter.revokeOrder({ mchOrderNo: 'F-elsewhere' })).outcome).toMatchObject({
      kind: 'unknown',
      code: 'MISADDRESSED',
    });
    const elsewhere = await adapter.queryOrder({ mchOrderNo: 'F-elsewhere' });
    expect(elsewhere.payment).toBeUndefined();
    expect(elsewhere.revoke).toMatchObject({ kind: 'unknown', code: 'MISADDRESSED' });

    sandbox.setOrder('F-badkey', { status: 'PAID_SUCCESS' });
    const wrong = createPaybyFollowUpAdapter(account({ privateKey: new Secret(pem('other-private.pem')) }));
    expect((await wrong.revokeOrder({ mchOrderNo: 'F-badkey' })).outcome).toMatchObject({
      kind: 'misconfigured',
      message: expect.stringContaining('could not verify our signature'),
    });
    expect(sandbox.order('F-badkey')).toMatchObject({ status: 'PAID_SUCCESS', revokes: 0 });
  });
});

describe('PayBy refund against the sandbox', () => {
  test('settled → refund CREATED, then SUCCESS after N queries; amount exact both ways; one refund', async () => {
    sandbox.setOrder(
      'F-settled-refund',
      { status: 'SETTLED', amount: 21.74, refundSucceedsAfterQueries: 2 },
      '131422372621200002',
    );
    const placed = await refund('R-settled-1', {
      payOrderId: '131422372621200002',
      mchOrderNo: 'F-settled-refund',
    });
    expect(placed.outcome).toMatchObject({
      kind: 'pending',
      refund: { refundMerchantOrderNo: 'R-settled-1', status: 'CREATED', amount: AED(2174) },
    });
    const refundOrderNo =
      placed.outcome.kind === 'pending' ? placed.outcome.refund?.refundOrderNo : undefined;
    expect(refundOrderNo).toMatch(/^\d+$/);
    expect(placed.exchange).toMatchObject({
      operation: 'refund',
      url: `${sandbox.url}/acquire2/refund/placeOrder`,
      signature: 'valid',
      request: {
        body: {
          bizContent: {
            refundMerchantOrderNo: 'R-settled-1',
            originOrderNo: '131422372621200002',
            amount: { currency: 'AED', amount: 21.74 },
            reason: 'cancelled by merchant',
          },
        },
      },
    });
    // Never both numbers of the paid order.
    expect(JSON.stringify(placed.exchange.request.body)).not.toContain('originMerchantOrderNo');
    expect(sandbox.refund('R-settled-1')).toMatchObject({ amountMinor: 2174, currency: 'AED' });

    const query = () =>
      adapter.queryRefund({
        refundMerchantOrderNo: 'R-settled-1',
        order: { payOrderId: '131422372621200002' },
        amount: AED(2174),
      });
    expect((await query()).outcome).toMatchObject({ kind: 'pending', refund: { status: 'CREATED' } });
    expect((await query()).outcome).toMatchObject({ kind: 'pending' });
    const done = await query();
    expect(done.outcome).toMatchObject({
      kind: 'done',
      effect: 'refunded',
      refund: { refundMerchantOrderNo: 'R-settled-1', refundOrderNo, status: 'SUCCESS', amount: AED(2174) },
    });
    expect(done.exchange).toMatchObject({ operation: 'refund-query', signature: 'valid' });
    expect(sandbox.order('F-settled-refund')).toMatchObject({ refunds: 1, revokes: 0, status: 'SETTLED' });
    expect(sandbox.order('F-settled-refund')!.calls).toEqual([
      'refund',
      'refund-query',
      'refund-query',
      'refund-query',
    ]);
  });

  test('refund FAILURE → refused with the channel code and message', async () => {
    sandbox.setOrder('F-refundfail', { status: 'SETTLED', refundFails: true });
    expect((await refund('R-fail-1', { mchOrderNo: 'F-refundfail' })).outcome).toMatchObject({
      kind: 'pending',
    });
    expect((await adapter.queryRefund({ refundMerchantOrderNo: 'R-fail-1' })).outcome).toEqual({
      kind: 'refused',
      code: '62045',
      message: 'REFUND_REJECTED',
      refund: expect.objectContaining({ refundMerchantOrderNo: 'R-fail-1', status: 'FAILURE' }),
    });
  });

  test('placeOrder answer lost (recorded) → unknown; the query by our id finds it; PayBy saw one refund', async () => {
    sandbox.setOrder('F-lostrefund', {
      status: 'SETTLED',
      loseRefundResponse: true,
      refundSucceedsAfterQueries: 1,
    });
    const lost = await refund('R-lost-1', { mchOrderNo: 'F-lostrefund' });
    expect(lost.outcome).toMatchObject({ kind: 'unknown', code: 'ECONNRESET' });
    const asked = await adapter.queryRefund({
      refundMerchantOrderNo: 'R-lost-1',
      order: { mchOrderNo: 'F-lostrefund' },
      amount: AED(2174),
    });
    expect(asked.outcome).toMatchObject({ kind: 'pending', refund: { status: 'CREATED' } });
    expect((await adapter.queryRefund({ refundMerchantOrderNo: 'R-lost-1' })).outcome).toMatchObject({
      kind: 'done',
    });
    expect(sandbox.order('F-lostrefund')!.calls).toEqual(['refund', 'refund-query', 'refund-query']);
    expect(sandbox.order('F-lostrefund')!.refunds).toBe(1);
  });

  test('a refund never placed: the query says so (resubmit), then placing it with the same id works', async () => {
    sandbox.setOrder('F-neverplaced', { status: 'SETTLED', faults: ['timeout'] });
    // The placeOrder never reached PayBy's books (no answer, nothing recorded).
    const timedOut = await refund('R-never-1', { mchOrderNo: 'F-neverplaced' });
    expect(timedOut.outcome).toMatchObject({ kind: 'unknown' });
    expect(sandbox.refund('R-never-1')).toBeUndefined();
    expect((await adapter.queryRefund({ refundMerchantOrderNo: 'R-never-1' })).outcome).toMatchObject({
      kind: 'resubmit',
      authoritative: true,
    });
    expect((await refund('R-never-1', { mchOrderNo: 'F-neverplaced' })).outcome).toMatchObject({
      kind: 'pending',
    });
    expect(sandbox.order('F-neverplaced')!.refunds).toBe(1);
  });

  test('the same refund id placed again never moves money twice: 62017 by default, or the same refund', async () => {
    sandbox.setOrder('F-repeat', { status: 'SETTLED' });
    await refund('R-repeat-1', { mchOrderNo: 'F-repeat' });
    expect((await refund('R-repeat-1', { mchOrderNo: 'F-repeat' })).outcome).toMatchObject({
      kind: 'pending',
      reason: expect.stringContaining('62017'),
    });
    expect(sandbox.order('F-repeat')!.refunds).toBe(1);

    sandbox.setOrder('F-repeat-same', { status: 'SETTLED', repeatedRefund: 'same' });
    const first = await refund('R-repeat-2', { mchOrderNo: 'F-repeat-same' });
    const again = await refund('R-repeat-2', { mchOrderNo: 'F-repeat-same' });
    expect(first.outcome).toMatchObject({ kind: 'pending', refund: { status: 'CREATED' } });
    expect(again.outcome).toEqual(first.outcome);
    expect(sandbox.order('F-repeat-same')!.refunds).toBe(1);
  });

  test("PayBy's refusals: revoked, unpaid, more than is left; partial refunds add up exactly", async () => {
    sandbox.setOrder('F-revoked', { status: 'PAID_SUCCESS' });
    await adapter.revokeOrder({ mchOrderNo: 'F-revoked' });
    expect((await refund('R-revoked', { mchOrderNo: 'F-revoked' })).outcome).toEqual({
      kind: 'refused',
      code: '62040',
      message: 'ACQUIRE_ORDER_REVOKED',
    });
    sandbox.setOrder('F-open', { status: 'CREATED' });
    expect((await refund('R-open', { mchOrderNo: 'F-open' })).outcome).toMatchObject({
      kind: 'refused',
      code: '62015',
    });
    sandbox.setOrder('F-partial', { status: 'SETTLED', amount: 0.3 });
    expect((await refund('R-partial-1', { mchOrderNo: 'F-partial' }, 10)).outcome).toMatchObject({
      kind: 'pending',
      refund: { amount: AED(10) },
    });
    expect((await refund('R-partial-2', { mchOrderNo: 'F-partial' }, 21)).outcome).toMatchObject({
      kind: 'refused',
      code: '62006',
      message: 'REFUND_AMOUNT_EXCEEDED',
    });
    expect((await refund('R-partial-3', { mchOrderNo: 'F-partial' }, 20)).outcome).toMatchObject({
      kind: 'pending',
      refund: { amount: AED(20) },
    });
    expect(sandbox.order('F-partial')!.refunds).toBe(2);
  });

  test('three-decimal currencies go on the wire exactly', async () => {
    sandbox.setOrder('F-kwd', { status: 'SETTLED', amount: 1.005, currency: 'KWD' });
    const placed = await adapter.placeRefund({
      refundMerchantOrderNo: 'R-kwd',
      order: { mchOrderNo: 'F-kwd' },
      amount: { minor: 1005, currency: 'KWD' },
    });
    expect(placed.outcome).toMatchObject({
      kind: 'pending',
      refund: { amount: { minor: 1005, currency: 'KWD' } },
    });
    expect(sandbox.refund('R-kwd')).toMatchObject({ amountMinor: 1005, currency: 'KWD' });
  });

  test('untrusted refund answers: wrong key, another refund; faults apply to refunds and refund queries too', async () => {
    sandbox.setOrder('F-refund-forged', { status: 'SETTLED', badSignature: true });
    expect((await refund('R-forged', { mchOrderNo: 'F-refund-forged' })).outcome).toMatchObject({
      kind: 'unknown',
      code: 'BAD_SIGNATURE',
    });
    // It was recorded all the same: the query (also forged here) cannot say otherwise.
    expect(sandbox.order('F-refund-forged')!.refunds).toBe(1);

    sandbox.setOrder('F-refund-elsewhere', { status: 'SETTLED', misaddressed: true });
    const elsewhere = await refund('R-elsewhere', { mchOrderNo: 'F-refund-elsewhere' });
    expect(elsewhere.outcome).toMatchObject({ kind: 'unknown', code: 'MISADDRESSED' });
    expect(elsewhere.outcome.kind === 'unknown' && elsewhere.outcome.reason).toMatch(
      /"R-elsewhere".*"R-elsewhere1"/,
    );
    expect((await adapter.queryRefund({ refundMerchantOrderNo: 'R-elsewhere' })).outcome).toMatchObject({
      kind: 'unknown',
      code: 'MISADDRESSED',
    });

    sandbox.setOrder('F-refund-faults', { status: 'SETTLED', faults: ['http504', 'reset', 'empty'] });
    expect((await refund('R-faults', { mchOrderNo: 'F-refund-faults' })).outcome).toMatchObject({
      kind: 'unknown',
      code: 'HTTP_504',
    });
    expect((await adapter.queryRefund({ refundMerchantOrderNo: 'R-faults' })).outcome).toMatchObject({
      kind: 'resubmit',
    });
    expect((await refund('R-faults', { mchOrderNo: 'F-refund-faults' })).outcome).toMatchObject({
      kind: 'unknown',
      code: 'ECONNRESET',
    });
    expect((await refund('R-faults', { mchOrderNo: 'F-refund-faults' })).outcome).toMatchObject({
      kind: 'unknown',
      reason: expect.stringMatching(/empty body/),
    });
    expect((await adapter.queryRefund({ refundMerchantOrderNo: 'R-faults' })).outcome).toMatchObject({
      kind: 'resubmit',
    });
    expect(sandbox.order('F-refund-faults')!.refunds).toBe(0);
    // The faults are spent: placing it now records it, once.
    expect((await refund('R-faults', { mchOrderNo: 'F-refund-faults' })).outcome).toMatchObject({
      kind: 'pending',
    });
    sandbox.setOrder('F-query-faults', { status: 'SETTLED', faults: [] });
    await refund('R-query-faults', { mchOrderNo: 'F-query-faults' });
    sandbox.order('F-query-faults')!.faults = ['http402'];
    sandbox.order('F-query-faults')!.requests = 0;
    expect((await adapter.queryRefund({ refundMerchantOrderNo: 'R-query-faults' })).outcome).toMatchObject({
      kind: 'unknown',
      code: '402',
    });
    expect(sandbox.order('F-refund-faults')!.refunds).toBe(1);
  });
});
