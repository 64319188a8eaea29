import type { Money } from '../common/money';

/**
 * What a provider's answer means for a cancellation: one closed union shared by every provider.
 *
 * - `cancelled`: a verified answer says the order is cancelled (seed state 2).
 * - `refused`: a final no (order paid, settled, not found, cancel failed or closed): state 3 or 4.
 * - `pending`: accepted, not final yet (state 0/1), or a claim to confirm by querying.
 * - `resubmit`: the provider shows the cancel did not take effect (or cannot be queried): send it.
 * - `unknown`: we do not know (timeout, reset, 5xx, empty or unverifiable answer): query, retry.
 * - `misconfigured`: the provider refused *us* (our signature, authorisation, parameters): fix config.
 */
export type CancelOutcome =
  | {
      kind: 'cancelled';
      providerCancelId?: string;
      providerOrderNo?: string;
      channelOrderNo?: string;
      successTime?: number;
      amount?: Money;
    }
  | {
      kind: 'refused';
      state: 3 | 4;
      code: string;
      message: string;
      providerCancelId?: string;
      channelOrderNo?: string;
    }
  | { kind: 'pending'; state: 0 | 1; providerCancelId?: string; reason?: string }
  | { kind: 'resubmit'; reason: string }
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
  order: OrderRef;
  /** Where an upstream gateway should send its Cancel Notification (our callback URL). */
  notifyUrl?: string;
  clientIp?: string;
  channelExtra?: string;
  extParam?: string;
}

export interface QueryCancelRequest {
  order: OrderRef;
  /** The provider's own id of the cancel, when it gave us one. */
  providerCancelId?: string;
}

export interface ProviderAdapter {
  readonly provider: 'payby' | 'unified';
  submitCancel(request: SubmitCancelRequest): Promise<ProviderResult>;
  queryCancel(request: QueryCancelRequest): Promise<ProviderResult>;
}
