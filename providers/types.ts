import type { Money } from '../common/money';

/**
 * What a verified answer told us about the order itself (not about the cancel). Filled where the
 * answer carries it; used for seed 000's payOrderId / payAmount / currency and to learn the order's
 * other number (one order, one cancellation, whichever number names it).
 */
export interface OrderFacts {
  /** The provider's payment order number (PayBy `orderNo`, Unified `payOrderId`). */
  payOrderId?: string;
  /** The merchant's order number as the provider knows it (PayBy `merchantOrderNo`). */
  mchOrderNo?: string;
  amount?: Money;
}

/**
 * What a provider's answer means for a cancellation: one closed union shared by every provider.
 * An adapter returns `cancelled`, `refused` or `pending` only for a verified answer about the order
 * it asked about; an answer about another order is `unknown` (code `MISADDRESSED`).
 *
 * - `cancelled`: a verified answer says the order is cancelled (seed state 2).
 * - `refused`: a final no (order paid, settled, not found, cancel failed or closed): state 3 or 4.
 *   `notFound` marks "the provider does not know this order", so no caller reads codes for it.
 *   `code` / `message` are the channel's own error code and description (PayBy `62001` /
 *   `ORDER_PAID`), as seed 000's `errCode` / `errMsg` carry them.
 * - `pending`: accepted, not final yet (state 0/1), or a claim to confirm by querying.
 * - `resubmit`: send the cancel (again). `authoritative`: a verified query shows the cancel did not
 *   take effect (PayBy getOrder CREATED). Not authoritative: the provider cannot be asked (Unified
 *   without the gateway's cancelOrderId), so a repeated cancel is the way to ask, and the earlier
 *   cancel may still have landed.
 * - `unknown`: we do not know (timeout, reset, 5xx, empty, unverifiable or misaddressed answer).
 * - `misconfigured`: the provider refused *us* (our signature, authorisation, parameters): fix config.
 */
export type CancelOutcome =
  | ({
      kind: 'cancelled';
      providerCancelId?: string;
      providerOrderNo?: string;
      channelOrderNo?: string;
      successTime?: number;
    } & OrderFacts)
  | ({
      kind: 'refused';
      state: 3 | 4;
      code: string;
      message: string;
      providerCancelId?: string;
      channelOrderNo?: string;
      /** The provider does not know the order (PayBy 62004 / 62035): set by the classifier only. */
      notFound?: true;
    } & OrderFacts)
  | ({ kind: 'pending'; state: 0 | 1; providerCancelId?: string; reason?: string } & OrderFacts)
  | { kind: 'resubmit'; reason: string; authoritative: boolean }
  /**
   * `notFound`: the provider said it does not know the order, in an answer that decides nothing.
   * `notSent`: our request never left (its activity failed with NOT_SENT); set by the workflow from
   * the activity's failure only, never from an answer, whatever code a provider puts in one.
   */
  | { kind: 'unknown'; reason: string; code?: string; notFound?: true; notSent?: true }
  | { kind: 'misconfigured'; code: string; message: string };

export type OutcomeKind = CancelOutcome['kind'];

export type SignatureVerdict = 'valid' | 'invalid' | 'missing' | 'not-required' | 'not-checked';

export type ProviderOperation = 'cancel' | 'query';

/** One request/response with a provider, as written to `provider_calls`. Holds no secret. */
export interface ExchangeRecord {
  operation: ProviderOperation;
  url: string;
  request: { headers: Record<string, string>; body: unknown };
  httpStatus?: number;
  responseBody?: string;
  signature: SignatureVerdict;
  outcome: CancelOutcome;
  error?: string;
  latencyMs: number;
}

export interface ProviderResult {
  outcome: CancelOutcome;
  /** Absent when no request was sent (nothing to ask, e.g. no provider id to query). */
  exchange?: ExchangeRecord;
}

export interface OrderRef {
  payOrderId?: string;
  mchOrderNo?: string;
}

export interface SubmitCancelRequest {
  /** The order as we asked for it; answers about another order are refused as `MISADDRESSED`. */
  order: OrderRef;
  /**
   * The gateway's cancel id we already know, on a repeated cancel: an answer naming another cancel
   * order is `MISADDRESSED`. Not sent (seed 000's cancel has no such parameter); only checked.
   */
  providerCancelId?: string;
  /** Where an upstream gateway should send its Cancel Notification (our callback URL). */
  notifyUrl?: string;
  clientIp?: string;
  channelExtra?: string;
  extParam?: string;
}

export interface QueryCancelRequest {
  /** The order as we asked for it; answers about another order are refused as `MISADDRESSED`. */
  order: OrderRef;
  /** The provider's own id of the cancel, when it gave us one. */
  providerCancelId?: string;
}

/** A request about to be sent, exactly as it will go (no secret in it: a signature, not a key). */
export interface OutgoingRequest {
  operation: ProviderOperation | FollowUpOperation;
  url: string;
  request: { headers: Record<string, string>; body: unknown };
}

/**
 * What the caller of an adapter is told before each request leaves. `beforeSend` runs before the
 * request is sent and may refuse it by throwing: then nothing is sent (the write-ahead audit: an
 * exchange the provider saw always has its row).
 */
export interface SendHooks {
  beforeSend?: (outgoing: OutgoingRequest) => Promise<void>;
}

export interface ProviderAdapter {
  readonly provider: 'payby' | 'unified';
  submitCancel(request: SubmitCancelRequest, hooks?: SendHooks): Promise<ProviderResult>;
  queryCancel(request: QueryCancelRequest, hooks?: SendHooks): Promise<ProviderResult>;
}

/**
 * Follow-ups for a paid order (issue 19): PayBy revokeOrder, refund/placeOrder, refund/getOrder.
 * Revoke and refund move money: an adapter never retries them, and after `unknown` the caller asks
 * first (getOrder for a revoke, refund/getOrder by our refund id for a refund) before sending again.
 */
export type FollowUpOperation = 'revoke' | 'refund' | 'refund-query';

/** PayBy refund statuses: CREATED (accepted), REFUNDED_SETTLED / SUCCESS (done), FAILURE. */
export type RefundStatus = 'CREATED' | 'REFUNDED_SETTLED' | 'SUCCESS' | 'FAILURE';

/** What a verified answer told us about one refund. */
export interface RefundFacts {
  /** Our id of the refund (PayBy `refundMerchantOrderNo`), created once and never reused. */
  refundMerchantOrderNo: string;
  /** PayBy's id of the refund (`refundOrder.orderNo`). */
  refundOrderNo?: string;
  status: RefundStatus;
  amount?: Money;
}

/** PayBy order statuses, as getOrder and revokeOrder report them. */
export type PaybyOrderStatus = 'CREATED' | 'PAID_SUCCESS' | 'SETTLED' | 'FAILURE';

/**
 * What a verified getOrder (or revokeOrder) answer about our order says about its payment: the
 * facts a paid-order policy needs. `revoked` is PayBy's string `"true"` read as a boolean;
 * `paidTime` is `paymentInfo.paidTime` (epoch ms), present once the order was paid.
 */
export interface OrderPaymentFacts extends OrderFacts {
  status: PaybyOrderStatus;
  revoked: boolean;
  paidTime?: number;
  /**
   * `paymentInfo.paidAmount`: what the payer actually paid (less than `amount`, the order's total,
   * when a discount was used). A refund in full gives back this, never the order's total.
   */
  paidAmount?: OrderFacts['amount'];
}

/**
 * What an answer to a follow-up means; one closed union for revoke, refund and refund query.
 * Like CancelOutcome, only a verified answer about the order (and refund) we asked about is
 * `done`, `pending`, `refused` or `resubmit`; an answer about another one is `unknown`
 * (code `MISADDRESSED`).
 *
 * - `done`: the money is on its way back. `revoked`: the order shows FAILURE with revoked "true".
 *   `cancelled`: revoke found the order unpaid and cancelled it (FAILURE, not revoked): nothing to
 *   give back. `refunded`: the refund is SUCCESS or REFUNDED_SETTLED.
 * - `pending`: accepted, not final (refund CREATED; revoke answered but the order does not show it
 *   yet; a refund id PayBy already knows): query to confirm, never send again.
 * - `refused`: a final no, with the channel's code and message (62039 REVOKE_FAILURE, 62040
 *   ACQUIRE_ORDER_REVOKED, 62041 ACQUIRE_ORDER_REFUNDED, 62046 REVOKE_REJECTED, refund FAILURE
 *   with its failCode / failDes, ...).
 * - `resubmit`: a verified query shows the follow-up did not take effect (getOrder still paid and
 *   not revoked; refund/getOrder knows no refund with our id): sending it (again, with the same
 *   refund id) is safe.
 * - `unknown`: we do not know (transport, 5xx, 402/404/500/504, unsigned or misaddressed answer,
 *   garbage): query before sending again.
 * - `misconfigured`: PayBy refused *us* (applyStatus ERROR, 403, 400 INVALID_PARAMETER).
 */
export type FollowUpOutcome =
  | ({ kind: 'done'; effect: 'revoked' | 'cancelled'; successTime: number } & OrderFacts)
  | { kind: 'done'; effect: 'refunded'; successTime: number; refund: RefundFacts }
  | { kind: 'pending'; reason: string; refund?: RefundFacts }
  | { kind: 'refused'; code: string; message: string; refund?: RefundFacts }
  | { kind: 'resubmit'; reason: string; authoritative: true }
  | { kind: 'unknown'; reason: string; code?: string }
  | { kind: 'misconfigured'; code: string; message: string };

export type FollowUpOutcomeKind = FollowUpOutcome['kind'];

/** One follow-up exchange, as written to `provider_calls` (same columns as a cancel exchange). */
export interface FollowUpExchangeRecord extends Omit<ExchangeRecord, 'operation' | 'outcome'> {
  operation: FollowUpOperation;
  outcome: FollowUpOutcome;
}

export interface FollowUpResult {
  outcome: FollowUpOutcome;
  exchange: FollowUpExchangeRecord;
}

/**
 * getOrder for a follow-up: the cancel classification as ever (`outcome`), the payment facts, and
 * what the answer means for a revoke (`revoke`: `done` when the order shows it revoked, `resubmit`
 * when it is verifiably not revoked, `unknown` when the answer cannot tell).
 */
export interface OrderQueryResult extends ProviderResult {
  /** Present only when the answer is verified, code 0 and about the order we asked about. */
  payment?: OrderPaymentFacts;
  revoke: FollowUpOutcome;
}

export interface PlaceRefundRequest {
  /** Our id of this refund: created once, stored before sending, reused on every resend. */
  refundMerchantOrderNo: string;
  /** The paid order: sent as `originOrderNo` when PayBy's number is known, else `originMerchantOrderNo`. */
  order: OrderRef;
  /** In minor units; sent as PayBy's decimal major units, exactly. */
  amount: Money;
  reason?: string;
  notifyUrl?: string;
}

export interface QueryRefundRequest {
  refundMerchantOrderNo: string;
  /** The paid order, when known: an answer naming another origin order is `MISADDRESSED`. */
  order?: OrderRef;
  /** The amount we asked for, when known: an answer with another amount is `MISADDRESSED`. */
  amount?: Money;
}

export interface FollowUpAdapter {
  readonly provider: 'payby';
  /** getOrder, with the payment facts a paid-order policy and a revoke confirmation need. */
  queryOrder(order: OrderRef, hooks?: SendHooks): Promise<OrderQueryResult>;
  /** revokeOrder. Never retried here; after `unknown`, queryOrder before revoking again. */
  revokeOrder(order: OrderRef, hooks?: SendHooks): Promise<FollowUpResult>;
  /** refund/placeOrder. Never retried here; after `unknown`, queryRefund by our id first. */
  placeRefund(request: PlaceRefundRequest, hooks?: SendHooks): Promise<FollowUpResult>;
  /** refund/getOrder by our refund id. */
  queryRefund(request: QueryRefundRequest, hooks?: SendHooks): Promise<FollowUpResult>;
}
