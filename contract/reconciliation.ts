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
