import type { CancelOutcome, FollowUpOutcome } from '../../providers/types';
import { TERMINAL_STATUSES, type CancellationStatus } from '../../contract/cancellation';
import { type ReconciliationClass } from '../../contract/reconciliation';

/**
 * How reconciliation reads a provider's answer about one cancellation and compares it with our row.
 * Pure: the page checker asks and records, the repair writes; this only decides.
 */

/**
 * The error codes of rows that record "the provider does not know the order" (PayBy's 62004 and
 * 62035; the names are what rows written before the integrity change hold). Answers say it
 * themselves (`notFound`, set by the classifiers); only stored rows are read by code.
 */
export const NOT_FOUND_ROW_CODES = ['62004', '62035', 'MERCHANT_ORDER_NO_NOT_EXIST', 'ORDER_NO_NOT_EXIST'];

/** A cancellation as reconciliation reads it from `cancellations`. */
export interface ReconciliationRow {
  cancel_order_id: string;
  workflow_id: string;
  account_id: string;
  pay_order_id: string | null;
  mch_order_no: string | null;
  notify_url: string | null;
  status: CancellationStatus;
  state: number;
  err_code: string | null;
  provider_cancel_id: string | null;
  follow_up: 'revoke' | 'refund' | null;
  created_at: Date;
}

/** The columns of `cancellations` a page reads. */
export const ROW_COLUMNS = [
  'cancel_order_id',
  'workflow_id',
  'account_id',
  'pay_order_id',
  'mch_order_no',
  'notify_url',
  'status',
  'state',
  'err_code',
  'provider_cancel_id',
  'follow_up',
  'created_at',
] as const satisfies ReadonlyArray<keyof ReconciliationRow>;

/** What the provider's answer says about the cancel: its seed state, or why there is none. */
export type ProviderView =
  | { kind: 'terminal'; state: 2 | 3 | 4 }
  /**
   * In progress; `inFlight`: the provider says so itself (a refund CREATED), STILL_PENDING at any
   * age; `state`: a refusal's own state where it does not decide (`afterLostCancel`).
   */
  | { kind: 'open'; inFlight?: string; state?: 3 | 4 }
  | { kind: 'missing' }
  /** The provider's final state contradicts what we did (a revoke that is not one): never repaired. */
  | { kind: 'contradicts'; state: 2 | 3 | 4; reason: string }
  | { kind: 'unknown'; reason: string };

/** The provider's answer, and how reconciliation reads it (a follow-up may read it otherwise). */
export interface ProviderAnswer {
  outcome: CancelOutcome;
  view: ProviderView;
}

/** A final answer: what a repair completes a record with. */
export type RepairOutcome = Extract<CancelOutcome, { kind: 'cancelled' | 'refused' }>;

export function isRepairOutcome(o: CancelOutcome | undefined): o is RepairOutcome {
  return o?.kind === 'cancelled' || o?.kind === 'refused';
}

export function providerView(o: CancelOutcome): ProviderView {
  switch (o.kind) {
    case 'cancelled':
      return { kind: 'terminal', state: 2 };
    case 'refused':
      return o.notFound ? { kind: 'missing' } : { kind: 'terminal', state: o.state };
    case 'pending':
    case 'resubmit':
      return { kind: 'open' };
    case 'unknown':
      return o.notFound ? { kind: 'missing' } : { kind: 'unknown', reason: o.reason };
    case 'misconfigured':
      return { kind: 'unknown', reason: `${o.code}: ${o.message}` };
  }
}

const answer = (outcome: CancelOutcome): ProviderAnswer => ({ outcome, view: providerView(outcome) });

/** Why the row's provider cannot be asked at all, or undefined. */
export function uncheckable(
  row: Pick<ReconciliationRow, 'account_id' | 'provider_cancel_id'>,
  provider: 'payby' | 'unified' | undefined,
): string | undefined {
  if (!provider) return `account ${row.account_id} is not configured`;
  if (provider === 'unified' && !row.provider_cancel_id)
    return 'no gateway cancelOrderId recorded: the gateway cannot be queried';
  return undefined;
}

/**
 * A refusal of the cancel order we know when a cancel's answer was lost (`lost`: its exchange, from
 * `lostCancelOf`): not final, as `decide` holds it in the workflow. The order may be cancelled under
 * a cancel order we never learnt: reported STILL_PENDING, nothing repaired.
 */
export function afterLostCancel(asked: ProviderAnswer, lost: string | undefined): ProviderAnswer {
  const o = asked.outcome;
  if (!lost || o.kind !== 'refused' || o.notFound) return asked;
  return {
    outcome: o,
    view: {
      kind: 'open',
      state: o.state,
      inFlight: `cancel order refused (${o.code} ${o.message}), but the answer to an earlier cancel (${lost}) was lost: the order may be cancelled under a cancel order we never learnt`,
    },
  };
}

/**
 * A paid order's revoke, read from PayBy's getOrder: the order stays paid (62001/62003) or shows
 * revoked (62040); what decides is the revoke, never "paid" read as a refusal of our cancel.
 */
export function revokeAnswer(asked: ProviderAnswer, now: number): ProviderAnswer {
  const o = asked.outcome;
  if (o.kind === 'refused' && o.code === '62040') return answer({ kind: 'cancelled', successTime: now });
  if (o.kind === 'refused' && (o.code === '62001' || o.code === '62003'))
    return { outcome: o, view: { kind: 'open' } };
  // FAILURE without revoked:"true": closed, not revoked — the money was not reversed by our revoke.
  if (o.kind === 'cancelled')
    return {
      outcome: o,
      view: {
        kind: 'contradicts',
        state: 2,
        reason: 'we revoked the payment, but getOrder shows the order FAILURE without revoked:"true"',
      },
    };
  return asked;
}

/** A paid order's refund, read from PayBy's refund/getOrder by our refund id. */
export function refundAnswer(
  refund: FollowUpOutcome,
  refundId: string,
  asked: CancelOutcome,
): ProviderAnswer {
  switch (refund.kind) {
    case 'done':
      return answer({ kind: 'cancelled', channelOrderNo: refundId, successTime: refund.successTime });
    case 'refused':
      return answer({ kind: 'refused', state: 3, code: refund.code, message: refund.message });
    case 'pending':
      return {
        outcome: asked,
        view: { kind: 'open', inFlight: `refund ${refundId} still ${refund.reason}` },
      };
    case 'resubmit':
      return { outcome: asked, view: { kind: 'open' } };
    default:
      return { outcome: asked, view: { kind: 'unknown', reason: `refund ${refundId}: ${refund.kind}` } };
  }
}

export interface ItemClass {
  cls: ReconciliationClass;
  /** The provider's seed state, where its answer gives one. */
  providerState: number | null;
  reason?: string;
}

/**
 * Our row against the provider's answer. Ours terminal: MATCHED or MISMATCHED (never changed
 * here). Ours open and the provider's final: REPAIRED. Both open: MATCHED, or STILL_PENDING once
 * older than `staleAfterHours` or when the provider itself says it is in flight (a refund
 * CREATED). An answer that contradicts what we did (a revoke that shows no revoke) is MISMATCHED.
 */
export function classifyItem(
  row: Pick<ReconciliationRow, 'status' | 'state' | 'err_code' | 'created_at'>,
  { outcome, view }: ProviderAnswer,
  at: { now: number; staleAfterHours: number },
): ItemClass {
  const ours = TERMINAL_STATUSES.includes(row.status);
  switch (view.kind) {
    case 'unknown':
      return { cls: 'ERROR', providerState: null, reason: view.reason };
    case 'contradicts':
      return { cls: 'MISMATCHED', providerState: view.state, reason: view.reason };
    case 'missing':
      return {
        cls:
          row.status === 'FAILED' && NOT_FOUND_ROW_CODES.includes(row.err_code ?? '')
            ? 'MATCHED'
            : 'MISSING_AT_PROVIDER',
        providerState: null,
      };
    case 'terminal':
      return {
        cls: ours ? (row.state === view.state ? 'MATCHED' : 'MISMATCHED') : 'REPAIRED',
        providerState: view.state,
      };
    case 'open': {
      const providerState = view.state ?? (outcome.kind === 'pending' ? outcome.state : 0);
      if (ours)
        return {
          cls: outcome.kind === 'resubmit' && row.status === 'FAILED' ? 'MATCHED' : 'MISMATCHED',
          providerState,
        };
      if (view.inFlight) return { cls: 'STILL_PENDING', providerState, reason: view.inFlight };
      const stale = row.created_at.getTime() < at.now - at.staleAfterHours * 3_600_000;
      return { cls: stale ? 'STILL_PENDING' : 'MATCHED', providerState };
    }
  }
}
