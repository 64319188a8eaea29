/** What the reconciliation workflow, its page activities and their callers exchange. */

export const RECONCILIATION_CLASSES = [
  'MATCHED',
  'REPAIRED',
  'MISMATCHED',
  'MISSING_AT_PROVIDER',
  'STILL_PENDING',
  'ERROR',
] as const;
export type ReconciliationClass = (typeof RECONCILIATION_CLASSES)[number];
export type ReconciliationCounts = Record<ReconciliationClass, number>;

export interface ReconciliationInput {
  /** Window of created/updated cancellations; absent (scheduled runs): the 24 h before the run. */
  from?: number;
  to?: number;
  accountId?: string;
  dryRun?: boolean;
  /** Non-terminal or UNRESOLVED cancellations older than this are always examined. */
  staleAfterHours?: number;
  pageSize?: number;
  /** Provider requests in flight at once, shared by the pages being checked. */
  concurrency?: number;
  /** Pages per run before continuing as new (keeps history small). */
  pagesPerRun?: number;
  /** Pages checked at once (each by one activity per account). */
  parallelPages?: number;
  /** Carried by continue-as-new. */
  resume?: {
    runId: string;
    from: number;
    to: number;
    after: string;
    counts: ReconciliationCounts;
    pages: number;
    total: number;
  };
}

export interface ReconciliationResult {
  runId: string;
  from: number;
  to: number;
  dryRun: boolean;
  counts: ReconciliationCounts;
  total: number;
}

/** What a running reconciliation answers to its `progress` query. */
export interface ReconciliationProgress {
  runId: string;
  processed: number;
  /** Size of the scope when the run began (rows changed since may make processed differ). */
  total: number;
  counts: ReconciliationCounts;
}

export interface ReconciliationPageItem {
  cancelOrderId: string;
  accountId: string;
}

export function reconcileTaskQueue(taskQueue: string, accountId: string): string {
  return `${taskQueue}/reconcile/${accountId}`;
}

/**
 * A repair a page found to make: the provider's answer is final, our record is not. The
 * reconciliation workflow makes it (signals the cancellation's run, or completes the record and
 * starts the runs that show and notify it); the page activity only finds it.
 */
export interface PageRepair {
  cancelOrderId: string;
  /** The cancellation's workflow id. */
  workflowId: string;
}

/** A page's counts, and the repairs it found (absent when none: a page of old runs had none). */
export type PageResult = ReconciliationCounts & { repairs?: PageRepair[] };

/** How a repair went, kept with its item. */
export type RepairHow =
  | 'signalled'
  | 'already terminal'
  | 'completed'
  | 'superseded by a retry'
  | 'not final: an earlier cancel was lost';
