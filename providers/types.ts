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
    } & OrderFacts)
  | ({ kind: 'pending'; state: 0 | 1; providerCancelId?: string; reason?: string } & OrderFacts)
  | { kind: 'resubmit'; reason: string; authoritative: boolean }
  | { kind: 'unknown'; reason: string; code?: string }
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

export interface ProviderAdapter {
  readonly provider: 'payby' | 'unified';
  submitCancel(request: SubmitCancelRequest): Promise<ProviderResult>;
  queryCancel(request: QueryCancelRequest): Promise<ProviderResult>;
}
