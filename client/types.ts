import type { Client } from '@temporalio/client';
import type { Config } from '../common/config';
import type {
  CancellationSnapshot,
  CancellationStatus,
  CancellationTimings,
  PaidOrderPolicy,
} from '../contract/cancellation';

export interface CancelflowClientOptions {
  client: Client;
  config: Pick<Config, 'apps' | 'accounts' | 'notifications'> & {
    temporal: Pick<Config['temporal'], 'taskQueue'>;
  };
  /** Override production timings (tests, demos). */
  timings?: Partial<CancellationTimings>;
  /** Override the history limit a run continues as new at (tests); frozen into each run's input. */
  historyLimit?: number;
}

export interface StartedCancellation {
  cancelOrderId: string;
  workflowId: string;
  /** False when this order already had a cancellation: that one is returned, nothing is redone. */
  created: boolean;
  /** Where the cancellation stands: after the provider's first answer, or after `waitMs`. */
  answer: CancellationSnapshot;
}

export interface StartOptions {
  /** How long to wait for the provider's first answer (default 5 s). */
  waitMs?: number;
  /**
   * The whole call's deadline, queueing in Temporal and the workers included (default: none).
   * Past it the call stops (no RPC left behind) with `NOT_ANSWERED`; the cancellation goes on.
   */
  deadlineMs?: number;
  /** Ops' retry of a cancellation that failed or is UNRESOLVED (see `retryCancellation`). */
  retryOf?: { cancelOrderId: string; force: boolean; moneyChecked?: boolean };
  /**
   * With `retryOf`: the retried cancellation's own workflow id, where the retry runs (whatever
   * order number the request names first), so that id's newest run always tells the truth.
   */
  workflowId?: string;
  /** Overrides the app's paid-order policy for this run (ops' follow-up by hand). */
  paidOrders?: PaidOrderPolicy;
  /** Why ops started it by hand (kept with its first transition). */
  operatorReason?: string;
}

/** Who is asking: an app sees only its own cancellations. */
export interface AppScope {
  mchNo: string;
  appId: string;
}

export interface CancellationSummary {
  workflowId: string;
  cancelOrderId: string;
  status: string;
  account: string;
  mchNo: string;
  orderRef: string;
  startTime: Date;
  closeTime?: Date;
}

export interface ListFilter {
  status?: CancellationStatus;
  account?: string;
  mchNo?: string;
  since?: Date;
  until?: Date;
  limit?: number;
}

export interface ExecutionFilter extends ListFilter {
  provider?: string;
  /** Only runs started for one of these order references (`pay:<payOrderId>`, `mch:<mchOrderNo>`). */
  orderRefs?: string[];
}

export interface CancellationExecution extends CancellationSummary {
  provider: string;
  /** Temporal's status of the run: RUNNING, COMPLETED, TERMINATED, FAILED, TIMED_OUT, CANCELLED. */
  execution: string;
}
