/**
 * The contract between the cancellation workflow, its activities and its callers. Nothing here
 * is a secret: activities resolve credentials from config by account id.
 */

/** Our internal status; seed 000's `state` (0..4) is kept beside it. */
export type CancellationStatus =
  'RECEIVED' | 'SUBMITTED' | 'PENDING' | 'SUCCEEDED' | 'FAILED' | 'CLOSED' | 'UNRESOLVED';

export type SeedState = 0 | 1 | 2 | 3 | 4;

/** Decided (by the provider, or by our configuration for FAILED): a terminal row never changes. */
export const TERMINAL_STATUSES: readonly CancellationStatus[] = ['SUCCEEDED', 'FAILED', 'CLOSED'];

/** Still being worked on by its run. */
export const IN_FLIGHT_STATUSES = [
  'RECEIVED',
  'SUBMITTED',
  'PENDING',
] as const satisfies readonly CancellationStatus[];

/** SUCCEEDED, FAILED or CLOSED. */
export function isTerminal(status: string): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

/**
 * Terminal, or UNRESOLVED: its run is done with it (a late callback, a reconciliation repair or an
 * operator's retry may still settle an UNRESOLVED one).
 */
export function isSettled(status: string): boolean {
  return isTerminal(status) || status === 'UNRESOLVED';
}

export interface OrderRefs {
  payOrderId?: string;
  mchOrderNo?: string;
}

/** Every timing of a cancellation, in milliseconds; production defaults, scaled down by tests. */
export interface CancellationTimings {
  /** First wait between provider queries; multiplied by `pollMultiplier` up to `pollMaxMs`. */
  pollInitialMs: number;
  pollMaxMs: number;
  pollMultiplier: number;
  /** Past this (from the request), a cancellation still not terminal becomes UNRESOLVED. */
  deadlineMs: number;
  /** After UNRESOLVED, how long the run keeps waiting for a provider callback or a repair. */
  unresolvedHoldMs: number;
  /** Delay before each notification attempt (seed 000: 0/30/60/90/120/150 s). */
  notificationScheduleMs: number[];
}

/** Over this many history events a cancellation run continues as new, carrying its state. */
export const DEFAULT_HISTORY_LIMIT = 8_000;

export const DEFAULT_TIMINGS: CancellationTimings = {
  pollInitialMs: 2_000,
  pollMaxMs: 5 * 60_000,
  pollMultiplier: 2,
  deadlineMs: 24 * 60 * 60_000,
  unresolvedHoldMs: 7 * 24 * 60 * 60_000,
  notificationScheduleMs: [0, 30_000, 60_000, 90_000, 120_000, 150_000],
};

export interface CancellationInput {
  accountId: string;
  provider: 'payby' | 'unified';
  mchNo: string;
  appId: string;
  order: OrderRefs;
  /** `pay:<payOrderId>` or `mch:<mchOrderNo>`. */
  orderRef: string;
  notifyUrl?: string;
  extParam?: string;
  clientIp?: string;
  channelExtra?: string;
  /** Epoch ms of the request; the deadline counts from here. */
  requestedAt: number;
  /** Resolved at start (production defaults plus overrides), so a changed default never changes a running one. */
  timings?: Partial<CancellationTimings>;
  /**
   * Ops' `retry`: start again although that cancellation failed (`force`: even for a business
   * refusal; `moneyChecked`: even an UNRESOLVED revoke or refund, ops having checked at the provider
   * that it moved no money).
   */
  retryOf?: { cancelOrderId: string; force: boolean; moneyChecked?: boolean };
  /** The previous run of this workflow id stopped without finishing (terminated): carry on its cancellation. */
  takeOver?: boolean;
  /** The app's paid-order policy, frozen at start; absent: a paid order is refused (62001/62003). */
  paidOrders?: PaidOrderPolicy;
  /** Why ops started this run by hand (retry, follow-up): kept with its first transition. */
  operatorReason?: string;
  /**
   * Over this many history events the run continues as new. Frozen at start like the timings (a
   * changed default never changes how a running one replays); absent in runs started before it
   * was frozen, which keep the limit they were started under (8,000).
   */
  historyLimit?: number;
  /** Set by continue-as-new: where the previous run stopped. */
  resume?: CancellationResume;
  /**
   * A run that records in Temporal a repair made outside the workflow (reconciliation, a late
   * callback) after the previous run closed: it reads that row (never creates one, never sends)
   * and shows its final state.
   */
  recorded?: { cancelOrderId: string; by: string };
}

/** Seed 000's "cancellation of the completed order on the same day", for PayBy: revoke, or refund. */
export interface PaidOrderPolicy {
  /** `refund`: always refund (ops' follow-up by hand). */
  policy: 'revoke' | 'revokeOrRefund' | 'refund';
  /** The IANA time zone whose calendar day "the same day" means. */
  timeZone: string;
  /** Ops' revoke by hand: any day, as long as the order is paid and not settled. */
  anyDay?: boolean;
}

/** What `recordCancellation` found or made for a new run. */
export type RecordResult =
  | {
      kind: 'created';
      cancelOrderId: string;
      /**
       * This run carries on an existing cancellation (its earlier run stopped without finishing, or
       * ops retried an UNRESOLVED one): where it stands, and whether a cancel may already be out.
       */
      carriedOn?: {
        status: CancellationStatus;
        state: SeedState;
        seq: number;
        providerCancelId?: string;
        mayHaveLanded: boolean;
      };
      /** Written as SUBMITTED (seq 1) with its row: the run's first transition is done. */
      submitted?: true;
      /**
       * What the merchant asked with that this run's input lacks, kept by the row: a retry by ops
       * (`retry`, `follow-up`) keeps the retired cancellation's notifyUrl, extParam, clientIp and
       * channelExtra, and a run carrying on a stopped one has its row's. The run takes them.
       */
      stored?: Pick<CancellationInput, 'notifyUrl' | 'extParam' | 'clientIp' | 'channelExtra'>;
    }
  /** The order already has a cancellation (running, finished, or named by its other number). */
  | { kind: 'existing'; snapshot: CancellationSnapshot };

/** The `accept` update: the merchant's answer, as soon as the first provider answer is classified. */
export interface AcceptRequest {
  /** How long the update may wait for that answer. */
  waitMs: number;
}

export interface CancellationResume {
  cancelOrderId: string;
  mayHaveLanded: boolean;
  lostSubmit: boolean;
  /** What the snapshot knew that the next run would not learn again. */
  facts?: Pick<CancellationSnapshot, 'payOrderId' | 'amount' | 'reason'>;
  seq: number;
  status: CancellationStatus;
  state: SeedState;
  providerCancelId?: string;
  nextOp: 'submit' | 'query';
  round: number;
  submits: number;
  queries: number;
}

/** What the provider told us about a cancellation, as kept in the snapshot and the row. */
export interface ProviderFacts {
  providerCancelId?: string;
  /** The provider's payment order number, once known (PayBy orderNo, Unified payOrderId). */
  payOrderId?: string;
  providerOrderNo?: string;
  channelOrderNo?: string;
  errCode?: string;
  errMsg?: string;
  amount?: { minor: number; currency: string };
  successTime?: number;
}

export interface CancellationSnapshot extends ProviderFacts {
  cancelOrderId: string;
  workflowId: string;
  accountId: string;
  provider: 'payby' | 'unified';
  mchNo: string;
  appId: string;
  order: OrderRefs;
  status: CancellationStatus;
  state: SeedState;
  submits: number;
  queries: number;
  /** The notification delivery workflow, once started. */
  notificationWorkflowId?: string;
  /**
   * The notification as this run left it: its first attempt delivered, the schedule's only attempt
   * failed, or the rest of the schedule carried on by the notification workflow.
   */
  notification?: 'delivered' | 'failed' | 'retrying';
  /**
   * Answered from its row (a repeat, a run carrying on a stopped one): the cancellation has a
   * notifyUrl, so a notification is owed or was made by an earlier run.
   */
  notifies?: boolean;
  requestedAt: number;
  deadlineAt: number;
  /** FAILED for our own reasons (configuration): the order may be cancelled again. */
  retryable?: boolean;
  /** Why the cancellation is where it is (UNRESOLVED, a refusal). */
  reason?: string;
  /** This answer's request created the cancellation (false: an existing one was returned). */
  created?: boolean;
  /** A paid order's follow-up under way or done. */
  followUp?: 'revoke' | 'refund';
}

/**
 * News from outside the run, carrying no outcome of its own (a hand-crafted signal can settle
 * nothing): `callback` names a stored provider callback, which the run re-reads and re-verifies in
 * an activity; `reconciliation` asks the run to query the provider now.
 */
export interface ProviderOutcomeSignal {
  source: 'callback' | 'reconciliation';
  /** `provider_callbacks.id`, or the reconciliation run id. */
  reference: string;
}

/** A closed cancellation completed from a verified provider callback (see `repairWorkflow`). */
export interface RepairInput {
  cancelOrderId: string;
  callbackId: string;
  notificationScheduleMs?: number[];
}

/**
 * A cancellation settled by hand (see `settleWorkflow`): ops' verdict once they have checked with
 * the provider out of band, for a record no run or repair can decide (a Unified refusal after a
 * cancel whose answer was lost). The evidence and the operator are kept in its final transition.
 */
export interface SettleInput {
  cancelOrderId: string;
  status: 'SUCCEEDED' | 'FAILED';
  /** What was checked, and where (a ticket, the provider's answer): kept whole in the transition. */
  evidence: string;
  operator: string;
  /** SUCCEEDED only: what the provider told ops, passed on to the merchant (seed 000, both optional). */
  successTime?: number;
  channelOrderNo?: string;
  /**
   * The row as ops saw it: written only if it is still so under the row lock, and before `until`
   * (epoch ms; the activity retries while Postgres or the worker is away, never past it).
   */
  expected: { status: 'UNRESOLVED'; workflowRunId: string | null; until: number };
  notificationScheduleMs?: number[];
}

/**
 * What `recordTransition` found instead of writing: Postgres already held another state for this
 * step (a repair or a late callback wrote first, or the cancellation was already terminal). The
 * run adopts it: it never tells anyone a state the books do not have. Undefined: written as asked.
 */
export type TransitionHeld = Pick<
  CancellationSnapshot,
  | 'status'
  | 'state'
  | 'retryable'
  | 'providerCancelId'
  | 'providerOrderNo'
  | 'channelOrderNo'
  | 'payOrderId'
  | 'amount'
  | 'successTime'
  | 'errCode'
  | 'errMsg'
>;

/** A transition as persisted by the `recordTransition` activity. */
export interface TransitionRecord extends ProviderFacts {
  cancelOrderId: string;
  seq: number;
  status: CancellationStatus;
  state: SeedState;
  reason?: string;
  retryable?: boolean;
  /** The merchant's order number as the provider reported it (learned alias). */
  mchOrderNo?: string;
  /** A paid order's follow-up started (revoke or refund). */
  followUp?: 'revoke' | 'refund';
}
