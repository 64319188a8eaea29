import { patched, proxyActivities, proxyLocalActivities, sleep } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { pollDelayMs } from '../contract/backoff';
import type { FollowUpOutcome, OrderFacts, OrderPaymentFacts, OrderRef } from '../providers/types';
import { localPersistence, providerQuery, providerSubmit } from './activity-options';
import type { CancellationTimings, PaidOrderPolicy } from '../contract/cancellation';

type Activities = ReturnType<typeof createActivities>;
type Money = NonNullable<OrderFacts['amount']>;
const { inspectPaidOrder, queryPaidOrderRefund } = proxyActivities<Activities>(providerQuery);
const { revokePaidOrder, placePaidOrderRefund } = proxyActivities<Activities>(providerSubmit);
const { recordRefund: recordRefundLocally } = proxyLocalActivities<Activities>(localPersistence);

/**
 * A refusal of a send is not the verdict once an earlier send of the run may still land, even
 * after a query that did not show it (runs from before ended on it, and replay so). Never rename it.
 */
const REFUSAL_AFTER_UNCONFIRMED_SEND_PATCH = 'follow-up-refusal-after-unconfirmed-send';
/** A refund in full gives back `paymentInfo.paidAmount`, not the order's total. Never rename it. */
const REFUND_PAID_AMOUNT_PATCH = 'follow-up-refund-paid-amount';

/**
 * Whether an answer refusing this send must be confirmed by a query rather than taken: a send may
 * have landed (its answer was lost), or one did earlier in the run and a query since did not show
 * it (PayBy may apply it later, or show it late), and the answer is one our own landed send could
 * cause (`couldBeOurs`: "already revoked/refunded", the amount used up, or our request refused as
 * misconfigured where a resend cannot tell). Any other refusal is the verdict.
 */
function keepAsking(mayHaveLanded: boolean, unconfirmedEarlier: boolean, couldBeOurs: boolean): boolean {
  return (
    mayHaveLanded || (unconfirmedEarlier && couldBeOurs && patched(REFUSAL_AFTER_UNCONFIRMED_SEND_PATCH))
  );
}

/** Refusals of a revoke that our own earlier revoke, landed, would cause (PROVIDERS.md). */
const REVOKE_DONE_ALREADY = new Set(['62040', '62041']);
/** Refusals of a refund that our own earlier refund, landed, would cause (PROVIDERS.md). */
const REFUND_DONE_ALREADY = new Set(['62006', '62040', '62041']);

/** How a paid order's follow-up ended, for the cancellation to persist and notify. */
export type FollowUpEnd =
  | { kind: 'done'; via: 'revoke' | 'refund'; channelOrderNo: string; successTime: number; amount?: Money }
  | { kind: 'refused'; code: string; message: string }
  | { kind: 'misconfigured'; code: string; message: string }
  | { kind: 'unresolved'; reason: string }
  /** The policy does not apply (or the payment could not be confirmed): the refusal stands. */
  | { kind: 'declined'; reason: string };

/** The calendar day (yyyy-mm-dd) of an instant in a time zone. */
export function dayIn(timeZone: string, at: number): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(new Date(at));
}

export interface FollowUpArgs {
  cancelOrderId: string;
  accountId: string;
  order: OrderRef;
  policy: PaidOrderPolicy;
  deadlineAt: number;
  timings: CancellationTimings;
  /** Called once the follow-up is chosen, before anything is sent (row, search attribute, log). */
  onStart(via: 'revoke' | 'refund', reason: string): Promise<void>;
  /** Counts a local activity in flight for the whole run (the merchant's wait never ends during one). */
  local<T>(running: Promise<T>): Promise<T>;
}

const unknown =
  (what: string) =>
  (err: unknown): FollowUpOutcome => ({
    kind: 'unknown',
    reason: `${what} failed: ${err instanceof Error ? err.message : String(err)}`,
  });

/**
 * Seed 000's promise for a paid order, as an app's policy: revoke a payment made today (in the
 * app's time zone) and not settled, or (`revokeOrRefund`) refund it in full. Confirmed with
 * getOrder first, never on a guess. Both move money: a send whose answer was lost is never
 * repeated before asking (getOrder for a revoke, refund/getOrder by our refund id), and once a
 * send may have landed, a refusal of a repeated send is not the verdict either.
 */
export async function followUpPaidOrder(args: FollowUpArgs): Promise<FollowUpEnd> {
  const call = { cancelOrderId: args.cancelOrderId, accountId: args.accountId, order: args.order };
  const wait = (round: number) =>
    sleep(Math.max(1, pollDelayMs(args.timings, round, args.deadlineAt - Date.now())));

  let payment: OrderPaymentFacts | undefined;
  for (let round = 0; round < 3 && !payment; round++) {
    payment = (await inspectPaidOrder(call).catch(() => undefined))?.payment;
    if (!payment && round < 2) await wait(round);
  }
  if (!payment) return { kind: 'declined', reason: 'the payment could not be confirmed with getOrder' };
  if (payment.status !== 'PAID_SUCCESS' && payment.status !== 'SETTLED')
    return { kind: 'declined', reason: `getOrder shows the order ${payment.status}, not paid` };

  const { timeZone } = args.policy;
  const today = dayIn(timeZone, Date.now());
  const paidDay = payment.paidTime !== undefined ? dayIn(timeZone, payment.paidTime) : undefined;
  let via: 'revoke' | 'refund';
  if (args.policy.policy === 'refund') via = 'refund';
  else if (payment.status === 'PAID_SUCCESS' && (paidDay === today || args.policy.anyDay)) via = 'revoke';
  else if (args.policy.policy === 'revokeOrRefund') via = 'refund';
  else
    return {
      kind: 'declined',
      reason:
        payment.status === 'SETTLED'
          ? 'the order is settled: policy "revoke" does not refund'
          : `paid on ${paidDay ?? 'an unknown day'}, not today (${today}, ${timeZone}): policy "revoke" reverses same-day payments only`,
    };
  // In full is what the payer paid (paymentInfo.paidAmount), not the order's total: with a discount
  // the total is more than PayBy holds for it. Runs from before the patch refunded the total; they
  // replay so. Never rename it.
  const asPaid = via === 'refund' && patched(REFUND_PAID_AMOUNT_PATCH);
  const refundAmount = via === 'refund' ? (asPaid ? payment.paidAmount : payment.amount) : undefined;
  if (via === 'refund' && !refundAmount)
    return { kind: 'declined', reason: 'getOrder gave no paid amount to refund' };
  // Nothing paid, more than the order, another currency: not what the payer paid for this order.
  const implausible =
    asPaid && refundAmount && payment.amount ? implausiblePaid(refundAmount, payment.amount) : undefined;
  if (implausible) return { kind: 'declined', reason: implausible };

  await args.onStart(
    via,
    via === 'revoke'
      ? `paid today (${today}, ${timeZone}): revoking it (policy ${args.policy.policy})`
      : `refunding ${refundAmount!.minor} minor units ${refundAmount!.currency} in full, as paid (policy ${args.policy.policy})`,
  );
  return via === 'revoke'
    ? revoke(args, call, payment, wait)
    : refund(args, call, refundAmount!, wait, payment.amount);
}

async function revoke(
  args: FollowUpArgs,
  call: { cancelOrderId: string; accountId: string; order: OrderRef },
  payment: OrderPaymentFacts,
  wait: (round: number) => Promise<void>,
): Promise<FollowUpEnd> {
  let send = true;
  let mayHaveLanded = false;
  // A revoke of this run was not confirmed (answer lost, or answered before getOrder showed it).
  let unconfirmed = false;
  for (let round = 0; ; round++) {
    const o: FollowUpOutcome = send
      ? await revokePaidOrder(call).catch(unknown('revoke'))
      : (await inspectPaidOrder(call).catch((err: unknown) => ({ revoke: unknown('getOrder')(err) }))).revoke;
    switch (o.kind) {
      case 'done':
        return {
          kind: 'done',
          via: 'revoke',
          channelOrderNo: payment.payOrderId ?? call.order.payOrderId ?? call.order.mchOrderNo ?? '',
          successTime: o.successTime,
          ...(payment.amount ? { amount: payment.amount } : {}),
        };
      case 'refused':
        // e.g. 62041 "already refunded" to a repeat, because the first revoke landed meanwhile.
        if (send && keepAsking(mayHaveLanded, unconfirmed, REVOKE_DONE_ALREADY.has(o.code))) send = false;
        else return { kind: 'refused', code: o.code, message: o.message };
        break;
      case 'misconfigured':
        if (send && !keepAsking(mayHaveLanded, unconfirmed, true))
          return { kind: 'misconfigured', code: o.code, message: o.message };
        send = false;
        break;
      case 'resubmit':
        // A verified getOrder shows it not revoked: sending (again) is safe.
        send = true;
        mayHaveLanded = false;
        break;
      case 'pending':
      case 'unknown':
        if (send) mayHaveLanded = unconfirmed = true;
        send = false;
        break;
    }
    if (Date.now() >= args.deadlineAt)
      return { kind: 'unresolved', reason: `revoke not confirmed before the deadline (${o.kind})` };
    await wait(round);
  }
}

/** Why a paid amount cannot be what the payer paid for this order (nothing, more, another currency). */
function implausiblePaid(paid: Money, total: Money): string | undefined {
  if (paid.currency !== total.currency)
    return `getOrder's paid amount is in ${paid.currency}, the order in ${total.currency}: not refunded`;
  if (paid.minor <= 0 || paid.minor > total.minor)
    return `getOrder's paid amount ${paid.minor} is not within the order's total ${total.minor} (${total.currency}): not refunded`;
  return undefined;
}

async function refund(
  args: FollowUpArgs,
  call: { cancelOrderId: string; accountId: string; order: OrderRef },
  amount: Money,
  wait: (round: number) => Promise<void>,
  /** The order's total, which the cancellation reports (as a revoke does); the refund gives back `amount`. */
  orderAmount?: Money,
): Promise<FollowUpEnd> {
  // Ours, created once for this cancellation and reused on every resend: PayBy never refunds twice.
  const refundId = `R${args.cancelOrderId.slice(1)}`;
  const refundCall = { ...call, refundId, amount };
  const recordRefund = (row: Parameters<typeof recordRefundLocally>[0]) =>
    args.local(recordRefundLocally(row));
  await recordRefund({ refundId, cancelOrderId: args.cancelOrderId, amount, status: 'SENDING' });
  let send = true;
  let mayHaveLanded = false;
  // A placeOrder of this run whose answer was lost (refund/getOrder may show it late).
  let unconfirmed = false;
  for (let round = 0; ; round++) {
    const o: FollowUpOutcome = send
      ? await placePaidOrderRefund(refundCall).catch(unknown('refund'))
      : await queryPaidOrderRefund(refundCall).catch(unknown('refund query'));
    const providerRefundNo = 'refund' in o && o.refund?.refundOrderNo ? o.refund.refundOrderNo : undefined;
    switch (o.kind) {
      case 'done':
        await recordRefund({
          ...refundStatus(refundId, args, amount, 'SUCCESS'),
          ...(providerRefundNo ? { providerRefundNo } : {}),
        });
        return {
          kind: 'done',
          via: 'refund',
          channelOrderNo: refundId,
          successTime: o.successTime,
          amount: orderAmount ?? amount,
        };
      case 'pending':
        await recordRefund({
          ...refundStatus(refundId, args, amount, 'CREATED'),
          ...(providerRefundNo ? { providerRefundNo } : {}),
        });
        mayHaveLanded = true;
        send = false;
        break;
      case 'refused':
        if (send && keepAsking(mayHaveLanded, unconfirmed, REFUND_DONE_ALREADY.has(o.code))) {
          send = false;
          break;
        }
        await recordRefund(refundStatus(refundId, args, amount, 'FAILURE'));
        return { kind: 'refused', code: o.code, message: o.message };
      case 'misconfigured':
        if (send && !keepAsking(mayHaveLanded, unconfirmed, true)) {
          await recordRefund(refundStatus(refundId, args, amount, 'FAILURE'));
          return { kind: 'misconfigured', code: o.code, message: o.message };
        }
        send = false;
        break;
      case 'resubmit':
        // refund/getOrder by our id verifiably found nothing: place it (again), same id.
        send = true;
        mayHaveLanded = false;
        break;
      case 'unknown':
        if (send) mayHaveLanded = unconfirmed = true;
        send = false;
        break;
    }
    if (Date.now() >= args.deadlineAt)
      return { kind: 'unresolved', reason: `refund ${refundId} not final before the deadline (${o.kind})` };
    await wait(round);
  }
}

function refundStatus(refundId: string, args: FollowUpArgs, amount: Money, status: string) {
  return { refundId, cancelOrderId: args.cancelOrderId, amount, status };
}
