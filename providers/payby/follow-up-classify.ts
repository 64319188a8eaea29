import { z } from 'zod';
import type { Money } from '../../common/money';
import type { HttpAnswer } from '../http';
import type {
  CancelOutcome,
  FollowUpOutcome,
  OrderPaymentFacts,
  OrderRef,
  RefundFacts,
  SignatureVerdict,
} from '../types';
import {
  amountOf,
  classifyPaybyAnswer,
  globalCodeOutcome,
  isRecord,
  misaddressed,
  orderFacts,
  readPaybyAnswer,
  revokedFlag,
  shown,
  type PaybyAnswerContext,
} from './classify';

/**
 * Classification of PayBy's follow-ups for a paid order (PROVIDERS.md, "PayBy revoke and refund"):
 * revokeOrder, refund/placeOrder, refund/getOrder, and what a getOrder answer says about a revoke.
 * Same envelope and trust rules as a cancel (readPaybyAnswer): a business answer counts only when
 * signed, and only when it is about the order (and refund) we asked about.
 */

const paidOrder = z.object({
  status: z.enum(['CREATED', 'PAID_SUCCESS', 'SETTLED', 'FAILURE']),
  revoked: z.union([z.string(), z.boolean()]).nullish(),
  paymentInfo: z.unknown().optional(),
});

const refundOrder = z.object({
  refundMerchantOrderNo: z.string(),
  orderNo: z.string().nullish(),
  status: z.enum(['CREATED', 'REFUNDED_SETTLED', 'SUCCESS', 'FAILURE']),
  amount: z.unknown().optional(),
  failCode: z.union([z.string(), z.number()]).nullish(),
  failDes: z.string().nullish(),
});

/** Revoke: the order is not found, or PayBy will not revoke it (PayBy's response codes). */
const REVOKE_REFUSALS = new Set(['62004', '62035', '62039', '62040', '62041', '62046']);

/**
 * Refund: the paid order is not found, not paid, failed, revoked or refunded already, the amount is
 * more than is left to refund, or PayBy rejects the refund.
 */
const REFUND_REFUSALS = new Set(['62002', '62004', '62006', '62015', '62035', '62040', '62041', '62045']);

/** Refund codes that mean our account setup is wrong (device, secondary merchant). */
const REFUND_MISCONFIGURED = new Set(['62036', '62038']);

const issueText = (error: z.ZodError): string => {
  const issue = error.issues[0];
  return `${issue?.path.join('.') || '(root)'} ${issue?.message ?? ''}`.trim();
};

/** `paymentInfo.paidTime` in epoch ms (a number, or a string of digits), when it is there. */
function paidTimeOf(paymentInfo: unknown): number | undefined {
  if (!isRecord(paymentInfo)) return undefined;
  const value = paymentInfo.paidTime;
  const ms =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d{1,16}$/.test(value)
        ? Number(value)
        : NaN;
  return Number.isSafeInteger(ms) && ms > 0 ? ms : undefined;
}

/** The payment facts of an `acquireOrder`, or why they cannot be read. */
export function paymentFactsOf(raw: Record<string, unknown>): OrderPaymentFacts | string {
  const parsed = paidOrder.safeParse(raw);
  if (!parsed.success) return `malformed acquireOrder: ${issueText(parsed.error)}`;
  const revoked = revokedFlag(parsed.data.revoked);
  if (revoked === undefined) return `unrecognised revoked value ${shown(parsed.data.revoked)}`;
  const paidTime = paidTimeOf(parsed.data.paymentInfo);
  const paidAmount = isRecord(parsed.data.paymentInfo)
    ? amountOf(parsed.data.paymentInfo.paidAmount)
    : undefined;
  return {
    ...orderFacts(raw),
    status: parsed.data.status,
    revoked,
    ...(paidTime !== undefined ? { paidTime } : {}),
    ...(paidAmount ? { paidAmount } : {}),
  };
}

/**
 * What a verified order says about a revoke. Revoked "true" is done (PayBy reversed the payment);
 * FAILURE without it is done too: revoke cancels an unpaid order and there is nothing to give back.
 * Otherwise the revoke has not shown yet: after revokeOrder itself that is `pending` (confirm with
 * getOrder); from getOrder it shows the revoke did not take effect, so revoking is safe.
 */
export function revokeOutcomeOf(
  payment: OrderPaymentFacts,
  asked: 'revoke' | 'query',
  receivedAt: number,
): FollowUpOutcome {
  const { status, revoked, paidTime: _paidTime, paidAmount: _paidAmount, ...facts } = payment;
  if (revoked && status === 'CREATED')
    return { kind: 'unknown', reason: 'order is CREATED yet marked revoked: contradictory answer' };
  if (revoked) return { kind: 'done', effect: 'revoked', successTime: receivedAt, ...facts };
  if (status === 'FAILURE') return { kind: 'done', effect: 'cancelled', successTime: receivedAt, ...facts };
  return asked === 'revoke'
    ? { kind: 'pending', reason: `revoke answered, but the order is ${status}: confirming with getOrder` }
    : {
        kind: 'resubmit',
        authoritative: true,
        reason: `order is ${status} and not revoked: the revoke has not taken effect`,
      };
}

function revokeAnswer(
  asked: 'revoke' | 'query',
  answer: HttpAnswer,
  signature: SignatureVerdict,
  context: PaybyAnswerContext,
): { outcome: FollowUpOutcome; payment?: OrderPaymentFacts } {
  const read = readPaybyAnswer(answer, signature);
  if ('outcome' in read) return { outcome: read.outcome };
  const { head, body, code, message } = read.envelope;

  const rawOrder = isRecord(body) ? body.acquireOrder : undefined;
  if (isRecord(rawOrder)) {
    const reason = misaddressed(rawOrder, context.order);
    if (reason) return { outcome: { kind: 'unknown', reason, code: 'MISADDRESSED' } };
  }
  if (code === '0') {
    if (head.applyStatus !== 'SUCCESS' || !isRecord(rawOrder))
      return { outcome: { kind: 'unknown', reason: 'code 0 without a SUCCESS acquireOrder' } };
    const payment = paymentFactsOf(rawOrder);
    if (typeof payment === 'string') return { outcome: { kind: 'unknown', reason: payment } };
    return { outcome: revokeOutcomeOf(payment, asked, context.receivedAt), payment };
  }
  if (asked === 'revoke') {
    // 601 RISK_FAIL: risk control refused this revoke (it may come unsigned, like every global code).
    if (REVOKE_REFUSALS.has(code) || code === '601') return { outcome: { kind: 'refused', code, message } };
  } else {
    if (code === '62004' || code === '62035') return { outcome: { kind: 'refused', code, message } };
    // A refused query says nothing about whether the revoke landed.
    if (code === '601')
      return { outcome: { kind: 'unknown', reason: `getOrder refused: ${code} ${message}`, code } };
  }
  return { outcome: globalCodeOutcome(read.envelope) };
}

/**
 * Classifies PayBy's answer to revokeOrder. `done` only from a signed answer about our order that
 * shows it revoked (or, for an unpaid order, FAILURE). There is no revoke-status call: after
 * `pending` or `unknown`, confirm with getOrder (classifyOrderQuery's `revoke`) before revoking again.
 */
export function classifyRevokeAnswer(
  answer: HttpAnswer,
  signature: SignatureVerdict,
  context: PaybyAnswerContext,
): FollowUpOutcome {
  return revokeAnswer('revoke', answer, signature, context).outcome;
}

/**
 * Classifies a getOrder answer three ways: for a cancel (`outcome`, exactly as classifyPaybyAnswer
 * does), the payment facts a paid-order policy needs (`payment`: status, revoked, paidTime; only
 * from a verified answer about our order), and what it means for a revoke (`revoke`).
 */
export function classifyOrderQuery(
  answer: HttpAnswer,
  signature: SignatureVerdict,
  context: PaybyAnswerContext,
): { outcome: CancelOutcome; payment?: OrderPaymentFacts; revoke: FollowUpOutcome } {
  const { outcome: revoke, payment } = revokeAnswer('query', answer, signature, context);
  return {
    outcome: classifyPaybyAnswer('query', answer, signature, context),
    ...(payment ? { payment } : {}),
    revoke,
  };
}

/** What a refund answer is checked against, and when it was received. */
export interface RefundAnswerContext {
  /** Our refund id, as the request named it. */
  refundMerchantOrderNo: string;
  /** The paid order, when known: a refund of another order is not ours. */
  order?: OrderRef;
  /** The amount asked for, when known: a refund of another amount is not ours. */
  amount?: Money;
  receivedAt: number;
}

/** Why a `refundOrder` is not the refund we asked about, or undefined when it is. */
function misaddressedRefund(raw: Record<string, unknown>, context: RefundAnswerContext): string | undefined {
  if (raw.refundMerchantOrderNo !== context.refundMerchantOrderNo)
    return `answer about another refund: asked refundMerchantOrderNo ${JSON.stringify(context.refundMerchantOrderNo)}, answer names ${shown(raw.refundMerchantOrderNo)}`;
  const origins = [
    ['originMerchantOrderNo', context.order?.mchOrderNo],
    ['originOrderNo', context.order?.payOrderId],
  ] as const;
  for (const [name, known] of origins) {
    const named = raw[name];
    if (known && named !== undefined && named !== null && named !== '' && named !== known)
      return `answer about a refund of another order: our ${name} is ${JSON.stringify(known)}, answer names ${shown(named)}`;
  }
  const amount = raw.amount === undefined ? undefined : amountOf(raw.amount);
  if (
    context.amount &&
    amount &&
    (amount.minor !== context.amount.minor || amount.currency !== context.amount.currency.toUpperCase())
  )
    return `answer about another refund: we asked for ${context.amount.minor} ${context.amount.currency} (minor units), answer says ${amount.minor} ${amount.currency}`;
  return undefined;
}

/**
 * Classifies PayBy's answer to refund/placeOrder (`refund`) or refund/getOrder (`refund-query`).
 * SUCCESS and REFUNDED_SETTLED are done, CREATED pending, FAILURE refused with PayBy's failCode /
 * failDes. A placeOrder whose refund id PayBy already knows (62017) is pending: that refund is the
 * one to query, never one to place again. A query that finds no refund with our id (62004 / 62035,
 * signed) shows it was never placed: placing it with the same id is safe (`resubmit`).
 */
export function classifyRefundAnswer(
  operation: 'refund' | 'refund-query',
  answer: HttpAnswer,
  signature: SignatureVerdict,
  context: RefundAnswerContext,
): FollowUpOutcome {
  const read = readPaybyAnswer(answer, signature);
  if ('outcome' in read) return read.outcome;
  const { head, body, code, message } = read.envelope;

  const rawRefund = isRecord(body) ? body.refundOrder : undefined;
  if (isRecord(rawRefund)) {
    const reason = misaddressedRefund(rawRefund, context);
    if (reason) return { kind: 'unknown', reason, code: 'MISADDRESSED' };
  }
  if (code === '0') {
    if (head.applyStatus !== 'SUCCESS' || !isRecord(rawRefund))
      return { kind: 'unknown', reason: 'code 0 without a SUCCESS refundOrder' };
    const parsed = refundOrder.safeParse(rawRefund);
    if (!parsed.success)
      return { kind: 'unknown', reason: `malformed refundOrder: ${issueText(parsed.error)}` };
    const { orderNo, status, failCode, failDes } = parsed.data;
    const amount = amountOf(parsed.data.amount);
    const refund: RefundFacts = {
      refundMerchantOrderNo: context.refundMerchantOrderNo,
      ...(orderNo ? { refundOrderNo: orderNo } : {}),
      status,
      ...(amount ? { amount } : {}),
    };
    switch (status) {
      case 'SUCCESS':
      case 'REFUNDED_SETTLED':
        return { kind: 'done', effect: 'refunded', successTime: context.receivedAt, refund };
      case 'CREATED':
        return { kind: 'pending', reason: 'refund CREATED: query refund/getOrder until it is final', refund };
      case 'FAILURE':
        return {
          kind: 'refused',
          code: failCode === undefined || failCode === null || failCode === '' ? 'FAILURE' : String(failCode),
          message: failDes || 'refund FAILURE',
          refund,
        };
    }
  }
  if (operation === 'refund') {
    if (code === '62017')
      return {
        kind: 'pending',
        reason: `PayBy already has a refund ${JSON.stringify(context.refundMerchantOrderNo)} (62017 ${message}): query it by this id`,
      };
    if (REFUND_REFUSALS.has(code) || code === '601') return { kind: 'refused', code, message };
    if (REFUND_MISCONFIGURED.has(code)) return { kind: 'misconfigured', code, message };
  } else {
    // Assumed from getOrder's codes: refund/getOrder names no codes of its own in PayBy's docs.
    if (code === '62004' || code === '62035')
      return {
        kind: 'resubmit',
        authoritative: true,
        reason: `PayBy has no refund ${JSON.stringify(context.refundMerchantOrderNo)} (${code} ${message}): it was never placed`,
      };
    if (code === '601')
      return { kind: 'unknown', reason: `refund/getOrder refused: ${code} ${message}`, code };
  }
  return globalCodeOutcome(read.envelope);
}
